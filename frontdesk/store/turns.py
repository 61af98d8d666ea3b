"""Turns in flight, in Redis: every acknowledged customer message gets an answer or an honest
failure, even when the gateway process that took it dies.

A turn is recorded (per conversation, by seq, with the process that runs it) right after the
customer's message is stored, and removed once its replies are stored. Each gateway process
keeps an "alive" key with a short expiry; turns whose process is gone are adopted by a live one.
The conversation's turns live in the conversation's hash slot; a small index lists the
conversations that have any.

A customer's message is stored and its turn recorded by one script (`intake`: one round trip,
both or neither), which also answers the conversation's fields as they were then, so the turn
need not read them again. The script writes the index too, a key outside the conversation's
slot: fine on a single Redis (with or without Sentinel), not on a Redis Cluster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis

from frontdesk.store.base import Intake
from frontdesk.store.batched import BatchedScript
from frontdesk.store.redis import APPEND_FUNCTION, append_arguments
from frontdesk.store.util import call, redis_errors, text, text_dict

INDEX = "fd:turns"

# KEYS[1] the conversation's turns; ARGV[1] seq, ARGV[2] expected owner, ARGV[3] new owner
_ADOPT = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local turn = cjson.decode(raw)
if turn['owner'] ~= ARGV[2] then return 0 end
turn['owner'] = ARGV[3]
turn['attempts'] = (turn['attempts'] or 0) + 1
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(turn))
return 1
"""

# APPEND_FUNCTION's KEYS and ARGV, then KEYS[5] the conversation's turns, KEYS[6] the index;
# ARGV[4] the turn, ARGV[5] its time (the index's score), ARGV[6] the conversation id.
# {seq, 1 if a duplicate (nothing written) else 0, the conversation hash (HGETALL) if new}
_INTAKE = (
    APPEND_FUNCTION
    + """
local seq, duplicate = append()
if duplicate == 1 then return {seq, 1, {}} end
redis.call('HSET', KEYS[5], seq, ARGV[4])
redis.call('ZADD', KEYS[6], ARGV[5], ARGV[6])
return {seq, 0, redis.call('HGETALL', KEYS[3])}
"""
)


def _turns_key(conversation_id: str) -> str:
    return f"fd:conv:{{{conversation_id}}}:turns"


def _alive_key(process_id: str) -> str:
    return f"fd:gateway:{process_id}:alive"


class RedisTurns:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._adopt = redis.register_script(_ADOPT)
        self._intake = BatchedScript(redis, _INTAKE)  # shares a round trip under load

    async def intake(
        self,
        conversation_id: str,
        entry: Mapping[str, Any],
        client_msg_id: str | None,
        turn: Mapping[str, Any],
    ) -> Intake:
        keys, args = append_arguments(conversation_id, entry, client_msg_id)
        keys += [_turns_key(conversation_id), INDEX]
        at = str(float(turn.get("at") or 0))
        args += [json.dumps(dict(turn), ensure_ascii=False), at, conversation_id]
        with redis_errors("could not store the message"):
            seq, duplicate, fields = await self._intake(keys=keys, args=args)
        conversation = text_dict(dict(zip(fields[::2], fields[1::2], strict=True)))
        return Intake(int(seq), bool(int(duplicate)), conversation)

    async def begin(self, conversation_id: str, seq: int, turn: Mapping[str, Any]) -> None:
        data = json.dumps(dict(turn), ensure_ascii=False)
        with redis_errors("could not record the turn"):
            async with self.redis.pipeline(transaction=False) as pipe:  # one round trip
                pipe.hset(_turns_key(conversation_id), str(seq), data)
                pipe.zadd(INDEX, {conversation_id: float(turn.get("at") or 0)})
                await pipe.execute()

    async def finish(self, conversation_id: str, seq: int) -> None:
        await self.finish_many([(conversation_id, seq)])

    async def finish_many(self, turns: Sequence[tuple[str, int]]) -> None:
        """Forget finished turns: one round trip, and one more when conversations are left
        without turns (they leave the index)."""
        seqs: dict[str, list[str]] = {}
        for conversation_id, seq in turns:
            seqs.setdefault(conversation_id, []).append(str(seq))
        with redis_errors("could not finish the turns"):
            async with self.redis.pipeline(transaction=False) as pipe:
                for conversation_id, finished in seqs.items():
                    pipe.hdel(_turns_key(conversation_id), *finished)
                    pipe.hlen(_turns_key(conversation_id))
                replies = await pipe.execute()
            done = [c for c, left in zip(seqs, replies[1::2], strict=True) if not left]
            if done:
                await self.redis.zrem(INDEX, *done)

    async def pending(self, conversation_id: str) -> dict[int, dict[str, Any]]:
        raw = await call(self.redis.hgetall(_turns_key(conversation_id)))
        return {int(text(seq)): json.loads(value) for seq, value in raw.items()}

    async def conversations(self) -> list[str]:
        return [text(c) for c in await call(self.redis.zrange(INDEX, 0, -1))]

    async def adopt(self, conversation_id: str, seq: int, owner: str, new_owner: str) -> bool:
        keys = [_turns_key(conversation_id)]
        return bool(await call(self._adopt(keys=keys, args=[str(seq), owner, new_owner])))

    async def beat(self, process_id: str, ttl_seconds: int) -> None:
        await call(self.redis.set(_alive_key(process_id), 1, ex=ttl_seconds))

    async def alive(self, process_id: str) -> bool:
        return bool(await call(self.redis.exists(_alive_key(process_id))))

    async def gone(self, process_id: str) -> None:
        """At a clean shutdown: this process runs no more turns (others adopt what is left)."""
        await call(self.redis.delete(_alive_key(process_id)))
