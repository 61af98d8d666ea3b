"""Script calls made in the same turn of the event loop share one round trip (real Redis), each
with its own result or error, in order; a script Redis lost (a restart, a failover) is loaded
again; a connection error fails every call of the batch, as it failed each call alone."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from frontdesk.store.batched import BatchedScript
from frontdesk.store.connection import timed_writes

COUNT = "if ARGV[1] == 'fail' then return redis.error_reply('refused') end "
COUNT += "return redis.call('INCRBY', KEYS[1], ARGV[1])"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_pool(timed_writes(BlockingConnectionPool.from_url(redis_url)))
    yield client
    await client.aclose()


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times a request was written to Redis (a pipeline counts once)."""
    sent: list[int] = []
    send = AbstractConnection.send_packed_command

    @functools.wraps(send)
    async def counted(self: AbstractConnection, *a: Any, **kw: Any) -> None:
        sent.append(1)
        await send(self, *a, **kw)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return sent


async def test_calls_of_one_turn_share_a_round_trip_each_with_its_own_answer(
    redis: Redis, writes: list[int]
) -> None:
    count = BatchedScript(redis, COUNT)
    await count(keys=["warm"], args=[1])  # loads the script (a lone call goes alone)
    writes.clear()
    results = await asyncio.gather(
        *(count(keys=[f"k{i % 3}"], args=[i]) for i in range(1, 11)),
        count(keys=["k0"], args=["fail"]),
        return_exceptions=True,
    )
    assert len(writes) == 1  # eleven calls, one request
    assert results[:10] == [1, 2, 3, 5, 7, 9, 12, 15, 18, 22]  # in order, per key
    assert isinstance(results[10], ResponseError) and "refused" in str(results[10])
    assert await count(keys=["k1"], args=[0]) == 22  # alone again: its own request


async def test_a_script_redis_lost_is_loaded_again(redis: Redis) -> None:
    count = BatchedScript(redis, COUNT)
    assert await count(keys=["k"], args=[1]) == 1
    await redis.script_flush()  # as after a restart or a failover to a replica
    results = await asyncio.gather(count(keys=["k"], args=[1]), count(keys=["k"], args=[1]))
    assert sorted(results) == [2, 3]


async def test_a_connection_error_fails_every_call_of_the_batch() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.5)
    count = BatchedScript(dead, COUNT)
    results = await asyncio.gather(
        *(count(keys=["k"], args=[1]) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RedisConnectionError) for r in results), results
    await dead.aclose()


async def test_calls_whose_connection_was_lost_are_made_again_once_each(redis: Redis) -> None:
    """The script's own connection dropped by Redis (a restart, a failover, an idle timeout):
    the next calls are answered through the client, which reconnects; none is run twice."""
    count = BatchedScript(redis, COUNT)
    assert await count(keys=["lost"], args=[1]) == 1  # its own connection is open now
    killed = await redis.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    results = await asyncio.gather(*(count(keys=["lost"], args=[1]) for _ in range(3)))
    assert sorted(results) == [2, 3, 4]
    assert int(await redis.get("lost")) == 4
    assert await count(keys=["lost"], args=[1]) == 5  # and on its own connection again
