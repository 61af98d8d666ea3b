"""Agent accounts and presence, in Redis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from frontdesk.errors import StoreUnavailable
from frontdesk.store.util import call, text, text_dict

AGENTS = "fd:agents"
PRESENCE = "fd:presence"  # name -> available | away (set by the agent)
ONLINE = "fd:online"  # name -> number of open console connections


class AgentStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def save(self, name: str, fields: Mapping[str, str]) -> None:
        mapping: dict[Any, Any] = {"name": name, **fields}
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(f"fd:agent:{name}", mapping=mapping)
                pipe.sadd(AGENTS, name)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def get(self, name: str) -> dict[str, str]:
        raw = await call(self.redis.hgetall(f"fd:agent:{name}"))
        return text_dict(raw)

    async def names(self) -> list[str]:
        return sorted(text(n) for n in await call(self.redis.smembers(AGENTS)))

    async def remove(self, name: str) -> None:
        await call(self.redis.delete(f"fd:agent:{name}"))
        await call(self.redis.srem(AGENTS, name))

    async def set_status(self, name: str, status: str) -> None:
        await call(self.redis.hset(PRESENCE, name, status))

    async def connected(self, name: str, delta: int) -> int:
        count = int(await call(self.redis.hincrby(ONLINE, name, delta)))
        if count <= 0:
            await call(self.redis.hdel(ONLINE, name))
        return max(count, 0)

    async def presence(self) -> dict[str, tuple[str, int]]:
        """name -> (status, open connections) for every agent."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(PRESENCE)
                pipe.hgetall(ONLINE)
                status, online = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(str(exc)) from exc
        names = {text(k) for k in status} | {text(k) for k in online}
        statuses = {text(k): text(v) for k, v in status.items()}
        counts = {text(k): int(v) for k, v in online.items()}
        return {n: (statuses.get(n, "available"), counts.get(n, 0)) for n in names}
