"""Redis connections that write without a new asyncio Task per command.

redis-py bounds each write by `socket_timeout` through `asyncio.wait_for`, which on Python 3.11
wraps every send in a Task of its own: a Task, its scheduling and an extra turn of the event loop
per Redis command, about a tenth of the gateway's CPU on a relayed message (bench/relay.py
--profile). These connections bound the write with `asyncio.timeout` instead (no Task), and
answer a write that times out exactly as redis-py does (the connection is dropped; redis-py's
TimeoutError). Reads keep redis-py's own timeout.

They also pack commands in C, with hiredis's `pack_command` (redis-py's synchronous client does
the same; its asyncio one packs in Python, a call per argument: about a tenth of the gateway's
CPU on a relayed message). The bytes are the same; what hiredis does not take (a memoryview,
or what redis-py refuses anyway, such as None) goes redis-py's way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import hiredis
from redis.asyncio.connection import (
    AbstractConnection,
    ConnectionPool,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.connection import Connection as TcpConnection
from redis.exceptions import TimeoutError as RedisTimeoutError


class TimedWrites(AbstractConnection):
    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):  # "CONFIG GET": the words go as separate arguments
            args = (*args[0].encode().split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            packed: list[bytes] = super().pack_command(*args)
            return packed

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        timeout = self.socket_timeout
        if not timeout:
            await super().send_packed_command(command, check_health)
            return
        self.socket_timeout = None  # redis-py's own wait_for is skipped; asyncio.timeout bounds
        try:
            async with asyncio.timeout(timeout):
                await super().send_packed_command(command, check_health)
        except TimeoutError:
            raise RedisTimeoutError("Timeout writing to socket") from None
        finally:
            self.socket_timeout = timeout


class Connection(TimedWrites, TcpConnection):
    pass


class UnixConnection(TimedWrites, UnixDomainSocketConnection):
    pass


class SslConnection(TimedWrites, SSLConnection):
    pass


_FOR = {TcpConnection: Connection, UnixDomainSocketConnection: UnixConnection}
_FOR[SSLConnection] = SslConnection


def timed_writes(pool: ConnectionPool) -> ConnectionPool:
    """The pool, making its connections with timed writes (same kind: TCP, TLS or unix)."""
    pool.connection_class = _FOR.get(pool.connection_class, pool.connection_class)
    return pool
