"""The Redis implementation of the store."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from frontdesk.store.base import AppendResult
from frontdesk.store.util import redis_errors, text_dict

# KEYS[1] transcript list, KEYS[2] client message ids -> seq; ARGV[1] client id or "", ARGV[2] entry
_APPEND = """
if ARGV[1] ~= '' then
  local seen = redis.call('HGET', KEYS[2], ARGV[1])
  if seen then return {tonumber(seen), 1} end
end
local seq = redis.call('RPUSH', KEYS[1], ARGV[2])
if ARGV[1] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], seq) end
return {seq, 0}
"""

# KEYS[1] conversation hash; ARGV[1] fields as JSON, ARGV[2..] allowed current states
_TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == '' then state = 'bot' end
for i = 2, #ARGV do
  if ARGV[i] == state then
    local fields = cjson.decode(ARGV[1])
    for name, value in pairs(fields) do redis.call('HSET', KEYS[1], name, value) end
    return 1
  end
end
return 0
"""


def _key(conversation_id: str, part: str = "") -> str:
    # The hash tag keeps one conversation's keys in one slot on a Redis cluster.
    return f"fd:conv:{{{conversation_id}}}{':' + part if part else ''}"


class RedisStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._append = redis.register_script(_APPEND)
        self._transition = redis.register_script(_TRANSITION)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def append(
        self, conversation_id: str, entry: Mapping[str, Any], client_msg_id: str | None = None
    ) -> AppendResult:
        data = json.dumps(dict(entry), ensure_ascii=False, separators=(",", ":"))
        keys = [_key(conversation_id, "log"), _key(conversation_id, "cmid")]
        with redis_errors("could not store the message"):
            seq, dup = await self._append(keys=keys, args=[client_msg_id or "", data])
        return AppendResult(seq=int(seq), duplicate=bool(int(dup)))

    async def history(
        self, conversation_id: str, after_seq: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        with redis_errors("could not read the transcript"):
            total = int(await self.redis.llen(_key(conversation_id, "log")))
            start = max(after_seq, total - limit)
            raw = await self.redis.lrange(_key(conversation_id, "log"), start, -1)
        entries = []
        for offset, item in enumerate(raw):
            entry: dict[str, Any] = json.loads(item)
            entry["seq"] = start + offset + 1
            entries.append(entry)
        return entries

    async def last_seq(self, conversation_id: str) -> int:
        with redis_errors():
            return int(await self.redis.llen(_key(conversation_id, "log")))

    async def get_conversation(self, conversation_id: str) -> dict[str, str]:
        with redis_errors():
            raw = await self.redis.hgetall(_key(conversation_id))
        return text_dict(raw)

    async def update_conversation(self, conversation_id: str, fields: Mapping[str, str]) -> None:
        if not fields:
            return
        with redis_errors():
            mapping: dict[Any, Any] = dict(fields)
            await self.redis.hset(_key(conversation_id), mapping=mapping)

    async def create_conversation(self, conversation_id: str, fields: Mapping[str, str]) -> bool:
        key = _key(conversation_id)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hsetnx(key, "id", conversation_id)
                for name, value in fields.items():
                    pipe.hsetnx(key, name, value)
                results = await pipe.execute()
        return bool(results[0])

    async def transition(
        self, conversation_id: str, allowed: list[str], fields: Mapping[str, str]
    ) -> bool:
        data = json.dumps(dict(fields), ensure_ascii=False)
        with redis_errors():
            done = await self._transition(keys=[_key(conversation_id)], args=[data, *allowed])
        return bool(int(done))

    async def incr_field(self, conversation_id: str, name: str, by: int = 1) -> int:
        with redis_errors():
            return int(await self.redis.hincrby(_key(conversation_id), name, by))

    async def first_time(self, namespace: str, key: str, ttl_seconds: int) -> bool:
        with redis_errors():
            return bool(
                await self.redis.set(f"fd:seen:{namespace}:{key}", 1, nx=True, ex=ttl_seconds)
            )
