"""The turn ledger and the Redis connections on real Redis: a customer's message is stored and
its turn recorded in one step (one round trip), finished turns are forgotten in batches (one
round trip for many), and a write Redis never takes fails like redis-py's own (a timeout)
without a Task per command."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import TimeoutError as RedisTimeoutError

from frontdesk.store.connection import Connection, timed_writes
from frontdesk.store.redis import RedisStore
from frontdesk.store.turns import INDEX, RedisTurns


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_pool(timed_writes(BlockingConnectionPool.from_url(redis_url)))
    yield client
    await client.aclose()


async def test_finishing_many_turns_forgets_those_and_keeps_the_rest(redis: Redis) -> None:
    ledger = RedisTurns(redis)
    for conversation, seq in (("a", 1), ("a", 2), ("b", 1), ("c", 4)):
        await ledger.begin(conversation, seq, {"owner": "p1", "at": 1.0, "text": "hi"})
    await ledger.finish_many([("a", 1), ("b", 1), ("c", 4), ("c", 9)])
    assert await ledger.pending("a") == {2: {"owner": "p1", "at": 1.0, "text": "hi"}}
    assert await ledger.pending("b") == {}
    assert await ledger.pending("c") == {}
    assert sorted(await ledger.conversations()) == ["a"]  # b and c left the index
    await ledger.finish("a", 2)
    assert await redis.zcard(INDEX) == 0


async def test_a_message_is_stored_with_its_turn_in_one_round_trip(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, ledger = RedisStore(redis), RedisTurns(redis)
    await store.create_conversation("conv", {"state": "agent", "agent": "ann", "language": "es"})
    turn = {"owner": "p1", "at": 5.0, "text": "hola"}
    await ledger.intake("conv", {"role": "customer", "text": "warm-up"}, None, turn)  # loads it
    sent: list[object] = []  # what the client writes to Redis: one item per round trip
    send = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sent.append(command)
        await send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    entry = {"role": "customer", "text": "hola"}
    taken = await ledger.intake("conv", entry, "m-1", turn)
    assert len(sent) == 1  # one script: stored, recorded, and the conversation read
    assert (taken.seq, taken.duplicate) == (2, False)
    assert taken.conversation["agent"] == "ann" and taken.conversation["language"] == "es"
    assert (await store.history("conv"))[-1]["text"] == "hola"
    assert (await ledger.pending("conv"))[2] == turn
    assert await ledger.conversations() == ["conv"]

    await ledger.finish_many([("conv", 1), ("conv", 2)])
    again = await ledger.intake("conv", entry, "m-1", turn)  # the customer's resend
    assert (again.seq, again.duplicate) == (2, True)
    assert len(await store.history("conv")) == 2  # stored once
    assert await ledger.pending("conv") == {}  # and no second turn
    # The plain append still answers the same ids.
    assert (await store.append("conv", entry, "m-1")).duplicate


async def test_the_gateways_connections_write_without_a_task_per_command(redis: Redis) -> None:
    assert redis.connection_pool.connection_class is Connection
    tasks = len(asyncio.all_tasks())
    seen: list[int] = []

    async def watch() -> None:
        await redis.set("k", "v")
        seen.append(len(asyncio.all_tasks()))

    await watch()
    assert seen == [tasks]  # redis-py's wait_for would have made a task for the write
    assert await redis.get("k") == b"v"


async def test_a_write_redis_never_takes_times_out() -> None:
    """A 'Redis' that accepts the connection and never reads: the write buffer fills up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    pool = BlockingConnectionPool.from_url(
        f"redis://127.0.0.1:{port}/0", socket_timeout=0.5, protocol=2, driver_info=None
    )
    client = Redis.from_pool(timed_writes(pool))
    try:
        with pytest.raises(RedisTimeoutError, match="Timeout writing to socket"):
            await client.execute_command("SET", "big", b"x" * 64_000_000)
    finally:
        await client.aclose()
        with contextlib.suppress(OSError):
            listener.close()


async def test_commands_are_packed_as_redis_py_packs_them(redis: Redis) -> None:
    """hiredis packs (in C) the bytes redis-py would; what it does not take goes redis-py's way."""
    from redis.asyncio.connection import Connection as PlainConnection

    ours, theirs = Connection(), PlainConnection()
    for args in (
        ("SET", "k", "é", 1, 2**70, 0.1, 1 / 3, b"\x00"),
        ("CONFIG GET", "maxmemory"),
        ("EVALSHA", "f" * 40, 2, "a", "b", -0.0, 1e300),
    ):
        assert b"".join(ours.pack_command(*args)) == b"".join(theirs.pack_command(*args))
    assert b"".join(ours.pack_command("SET", "k", memoryview(b"v"))) == b"".join(
        theirs.pack_command("SET", "k", memoryview(b"v"))
    )
    await redis.set("packed", "é")  # and Redis reads them
    assert await redis.get("packed") == "é".encode()
