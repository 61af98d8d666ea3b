"""Agent accounts and presence, in Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from frontdesk.store.util import call, redis_errors, text, text_dict

AGENTS = "fd:agents"
PRESENCE = "fd:presence"  # name -> available | away (set by the agent)
GATEWAYS = "fd:gateways"  # gateway process id -> last heartbeat (sorted set)
PROCESS_TTL = 60  # seconds without a heartbeat before a gateway's connections stop counting


def _online(process_id: str) -> str:
    return f"fd:online:{process_id}"  # name -> open console connections on that gateway


class AgentStore:
    """Accounts, and presence counted per gateway process: a gateway that dies stops
    counting after PROCESS_TTL, so nobody looks online because of a crash."""

    def __init__(self, redis: Redis, process_id: str = "") -> None:
        self.redis = redis
        self.process_id = process_id or uuid.uuid4().hex

    async def save(self, name: str, fields: Mapping[str, str]) -> None:
        mapping: dict[Any, Any] = {"name": name, **fields}
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(f"fd:agent:{name}", mapping=mapping)
                pipe.sadd(AGENTS, name)
                await pipe.execute()

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
        key = _online(self.process_id)
        count = int(await call(self.redis.hincrby(key, name, delta)))
        if count <= 0:
            await call(self.redis.hdel(key, name))
        await self.heartbeat()
        return max(count, 0)

    async def heartbeat(self) -> None:
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(GATEWAYS, {self.process_id: time.time()})
                pipe.expire(_online(self.process_id), PROCESS_TTL)
                await pipe.execute()

    async def forget_process(self) -> None:
        """At shutdown: this gateway's console connections are gone."""
        await call(self.redis.delete(_online(self.process_id)))
        await call(self.redis.zrem(GATEWAYS, self.process_id))

    async def presence(self) -> dict[str, tuple[str, int]]:
        """name -> (status, open connections on live gateways) for every known agent."""
        live = await call(self.redis.zrangebyscore(GATEWAYS, time.time() - PROCESS_TTL, "+inf"))
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(PRESENCE)
                for process_id in live:
                    pipe.hgetall(_online(text(process_id)))
                status, *online = await pipe.execute()
        counts: dict[str, int] = {}
        for per_process in online:
            for name, count in per_process.items():
                counts[text(name)] = counts.get(text(name), 0) + int(count)
        statuses = {text(k): text(v) for k, v in status.items()}
        names = set(statuses) | set(counts)
        return {n: (statuses.get(n, "available"), counts.get(n, 0)) for n in names}
