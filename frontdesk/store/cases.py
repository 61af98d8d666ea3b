"""Handoff cases, the waiting queue and agents' loads, in Redis.

A case is one handoff: from the customer's request to the agent closing it. Its fields are a
Redis hash; the live queue and the left messages are two sorted sets by request time (a left
message is never a place in the live queue); each agent's open cases are a set whose size is
the agent's load. Claims and transfers are Lua scripts, so capacity holds under races.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from frontdesk.store.batched import BatchedScript
from frontdesk.store.redis import (
    APPEND_FUNCTION,
    append_arguments,
    conversation_keys,
    email_key,
    emails_in,
)
from frontdesk.store.util import call, redis_errors, text, text_dict

QUEUE = "fd:queue"
MESSAGES = "fd:messages"
CLOSED = "fd:cases:closed"
AWAY = "fd:away"  # conversation id -> since when none of its pages has been open

# A left message an agent takes goes to their messages set, not their cases: it is answered by
# e-mail and holds none of their chat slots (capacity counts live chats only).
# KEYS: queue, agent's cases, case, messages, agent's messages; ARGV: case id, capacity, now, agent
_CLAIM = """
if redis.call('ZREM', KEYS[4], ARGV[1]) == 1 then
  redis.call('SADD', KEYS[5], ARGV[1])
else
  if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return -1 end
  if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
  redis.call('SADD', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[3], 'state', 'agent', 'agent', ARGV[4])
redis.call('HSETNX', KEYS[3], 'joined_at', ARGV[3])
return 1
"""

# KEYS: from agent's cases, to agent's cases, case, from agent's messages, to agent's messages;
# ARGV: case id, capacity, to agent
_TRANSFER = """
if redis.call('SMOVE', KEYS[4], KEYS[5], ARGV[1]) == 0 then
  if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
  if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return -1 end
  redis.call('SMOVE', KEYS[1], KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[3], 'agent', ARGV[3])
return 1
"""

# An agent's reply, stored only while the agent holds the case in a live chat (one step: the
# check cannot go stale before the write). APPEND_FUNCTION's KEYS and ARGV, then KEYS[5] the
# case, ARGV[4] the agent. The reply's seq, or 0 (nothing written).
_REPLY = (
    APPEND_FUNCTION
    + """
local held = redis.call('HMGET', KEYS[5], 'agent', 'state', 'kind')
if held[1] ~= ARGV[4] or held[2] ~= 'agent' or held[3] == 'message' then return 0 end
local seq = append()
return seq
"""
)


def case_key(case_id: str) -> str:
    return f"fd:case:{case_id}"


def agent_cases_key(agent: str) -> str:
    return f"fd:agent:{agent}:cases"


def agent_messages_key(agent: str) -> str:
    """The left messages an agent took to answer by e-mail (no capacity slot)."""
    return f"fd:agent:{agent}:messages"


def customer_cases_key(customer_key: str) -> str:
    return f"fd:customer:{customer_key}:cases"


class CaseStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._claim = redis.register_script(_CLAIM)
        self._transfer = redis.register_script(_TRANSFER)
        self._reply = BatchedScript(redis, _REPLY)  # shares a round trip under load

    async def create(
        self, case_id: str, fields: Mapping[str, str], customer_key: str, kind: str = "live"
    ) -> None:
        """A new case in the live queue (or, kind "message", among the left messages),
        remembered in the customer's case list."""
        requested_at = float(fields["requested_at"])
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                mapping: dict[Any, Any] = {**fields, "kind": kind}
                pipe.hset(case_key(case_id), mapping=mapping)
                pipe.zadd(MESSAGES if kind == "message" else QUEUE, {case_id: requested_at})
                pipe.lpush(f"fd:customer:{customer_key}:cases", case_id)
                for address in emails_in(fields):  # findable for `customers forget <e-mail>`
                    pipe.sadd(email_key(address), customer_key)
                    pipe.sadd(conversation_keys(customer_key)[3], address)
                await pipe.execute()

    async def get(self, case_id: str) -> dict[str, str]:
        raw = await call(self.redis.hgetall(case_key(case_id)))
        return text_dict(raw)

    async def get_many(self, case_ids: list[str]) -> list[dict[str, str]]:
        if not case_ids:
            return []
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for case_id in case_ids:
                    pipe.hgetall(case_key(case_id))
                rows = await pipe.execute()
        return [{text(k): text(v) for k, v in row.items()} for row in rows if row]

    async def update(self, case_id: str, fields: Mapping[str, str]) -> None:
        mapping: dict[Any, Any] = dict(fields)
        await call(self.redis.hset(case_key(case_id), mapping=mapping))

    async def append_reply(
        self, case_id: str, agent: str, conversation_id: str, entry: Mapping[str, Any]
    ) -> int | None:
        """Append the agent's reply to the conversation's transcript if the agent holds the
        case in a live chat, checked in the same step; its seq, or None (nothing written)."""
        keys, args = append_arguments(conversation_id, entry, None)
        with redis_errors("could not store the message"):
            seq = await self._reply(keys=[*keys, case_key(case_id)], args=[*args, agent])
        return int(seq) or None

    async def set_once(self, case_id: str, name: str, value: str) -> bool:
        """Set a field only if it has no value yet (first agent reply, …)."""
        return bool(await call(self.redis.hsetnx(case_key(case_id), name, value)))

    async def queue(self) -> list[tuple[str, float]]:
        rows = await call(self.redis.zrange(QUEUE, 0, -1, withscores=True))
        return [(text(member), float(score)) for member, score in rows]

    async def messages(self) -> list[tuple[str, float]]:
        rows = await call(self.redis.zrange(MESSAGES, 0, -1, withscores=True))
        return [(text(member), float(score)) for member, score in rows]

    async def dequeue(self, case_id: str) -> bool:
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(QUEUE, case_id)
                pipe.zrem(MESSAGES, case_id)
                removed = await pipe.execute()
        return any(removed)

    async def claim(self, case_id: str, agent: str, capacity: int, now: float | None = None) -> int:
        """1 claimed, 0 no longer waiting, -1 agent at capacity."""
        keys = [QUEUE, agent_cases_key(agent), case_key(case_id), MESSAGES]
        keys.append(agent_messages_key(agent))
        moment = time.time() if now is None else now
        args: list[str | int] = [case_id, capacity, f"{moment:.3f}", agent]
        return int(await call(self._claim(keys=keys, args=args)))

    async def unclaim(self, case_id: str, agent: str, requested_at: float) -> None:
        """Undo a claim of a live case: back in the queue at its place, nobody's."""
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.srem(agent_cases_key(agent), case_id)
                pipe.zadd(QUEUE, {case_id: requested_at})
                pipe.hset(case_key(case_id), "state", "queued")
                pipe.hdel(case_key(case_id), "agent", "joined_at")
                await pipe.execute()

    async def transfer(self, case_id: str, source: str, target: str, capacity: int) -> int:
        """1 moved, 0 the source agent does not hold it, -1 target at capacity."""
        keys = [agent_cases_key(source), agent_cases_key(target), case_key(case_id)]
        keys += [agent_messages_key(source), agent_messages_key(target)]
        return int(await call(self._transfer(keys=keys, args=[case_id, capacity, target])))

    async def release(self, case_id: str, agent: str, fields: Mapping[str, str]) -> None:
        """The agent is done with the case: free the slot, store the closing fields."""
        mapping: dict[Any, Any] = dict(fields)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.srem(agent_cases_key(agent), case_id)
                pipe.srem(agent_messages_key(agent), case_id)
                pipe.hset(case_key(case_id), mapping=mapping)
                pipe.zadd(CLOSED, {case_id: float(fields.get("closed_at", time.time()))})
                await pipe.execute()

    async def agent_cases(self, agent: str) -> list[str]:
        """The live chats the agent holds (their load)."""
        return sorted(text(m) for m in await call(self.redis.smembers(agent_cases_key(agent))))

    async def agent_messages(self, agent: str) -> list[str]:
        """The left messages the agent took to answer by e-mail (not part of their load)."""
        return sorted(text(m) for m in await call(self.redis.smembers(agent_messages_key(agent))))

    async def loads(self, agents: list[str]) -> dict[str, int]:
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for agent in agents:
                    pipe.scard(agent_cases_key(agent))
                counts = await pipe.execute()
        return {agent: int(n) for agent, n in zip(agents, counts, strict=True)}

    async def customer_cases(self, customer_key: str, limit: int = 20) -> list[str]:
        rows = await call(self.redis.lrange(f"fd:customer:{customer_key}:cases", 0, limit))
        return [text(r) for r in rows]

    async def add_note(self, case_id: str, note: Mapping[str, Any]) -> None:
        await call(self.redis.rpush(f"{case_key(case_id)}:notes", json.dumps(dict(note))))

    async def notes(self, case_id: str) -> list[dict[str, Any]]:
        rows = await call(self.redis.lrange(f"{case_key(case_id)}:notes", 0, -1))
        return [json.loads(r) for r in rows]

    # -- customers whose page is gone (abandonment, core/abandon.py) -------------------------------

    async def mark_away(self, conversation_id: str, since: float, keep_older: bool = False) -> None:
        """No page of the customer's is open since `since` (keep_older: keep an earlier mark)."""
        await call(self.redis.zadd(AWAY, {conversation_id: since}, nx=keep_older))

    async def mark_back(self, conversation_id: str) -> None:
        await call(self.redis.zrem(AWAY, conversation_id))

    async def away_since(self, until: float) -> list[tuple[str, float]]:
        """Conversations away since `until` or earlier, oldest first."""
        rows = await call(self.redis.zrangebyscore(AWAY, "-inf", until, withscores=True))
        return [(text(member), float(score)) for member, score in rows]

    async def forget_away(self, conversation_ids: list[str]) -> None:
        if conversation_ids:
            await call(self.redis.zrem(AWAY, *conversation_ids))

    async def closed_since(self, since: float) -> list[str]:
        rows = await call(self.redis.zrangebyscore(CLOSED, since, "+inf"))
        return [text(r) for r in rows]

    # -- retention and erasure (frontdesk.store.retention) ---------------------------------------

    async def cases_of(self, customer_key: str) -> list[dict[str, str]]:
        """Every case of the customer (a conversation), newest first, with its notes count;
        a case whose record is gone appears as {"id": …} only."""
        ids = [
            text(r) for r in await call(self.redis.lrange(customer_cases_key(customer_key), 0, -1))
        ]
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for case_id in ids:
                    pipe.hgetall(case_key(case_id))
                    pipe.llen(f"{case_key(case_id)}:notes")
                rows = await pipe.execute()
        cases = []
        for case_id, raw, notes in zip(ids, rows[::2], rows[1::2], strict=True):
            cases.append({**text_dict(raw), "id": case_id, "notes": str(int(notes))})
        return cases

    async def closed_before(self, cutoff: float) -> list[str]:
        rows = await call(self.redis.zrangebyscore(CLOSED, "-inf", f"({cutoff}"))
        return [text(r) for r in rows]

    async def delete_case(self, case_id: str) -> list[str]:
        """Delete a case, its notes and its entries in the queue, the left messages, the closed
        cases, its agent's set and its customer's list; what was removed."""
        fields = await self.get(case_id)
        agent, customer = fields.get("agent", ""), fields.get("conversation_id", "")
        removed = [case_key(case_id), f"{case_key(case_id)}:notes"]
        entries = [f"{QUEUE} entry", f"{MESSAGES} entry", f"{CLOSED} entry"]
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(case_key(case_id))
                pipe.delete(f"{case_key(case_id)}:notes")
                for index in (QUEUE, MESSAGES, CLOSED):
                    pipe.zrem(index, case_id)
                if agent:
                    pipe.srem(agent_cases_key(agent), case_id)
                    entries.append(f"{agent_cases_key(agent)} entry")
                    pipe.srem(agent_messages_key(agent), case_id)
                    entries.append(f"{agent_messages_key(agent)} entry")
                if customer:
                    pipe.lrem(customer_cases_key(customer), 0, case_id)
                    entries.append(f"{customer_cases_key(customer)} entry")
                done = await pipe.execute()
        return [name for name, n in zip(removed + entries, done, strict=True) if int(n) > 0]

    async def delete_cases_of(self, customer_key: str) -> list[str]:
        """Delete every case of the customer (see delete_case) and the customer's case list."""
        removed: list[str] = []
        for case in await self.cases_of(customer_key):
            removed += await self.delete_case(case["id"])
        if await call(self.redis.delete(customer_cases_key(customer_key))):
            removed.append(customer_cases_key(customer_key))
        return removed
