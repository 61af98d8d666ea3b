"""Lua script calls made in the same turn of the event loop, sent to Redis in one round trip.

Every relayed message and every bot turn runs one of a few scripts (a message stored with its
turn, an agent's reply, a bot's answer). Under load, many such calls start in the same turn of
the event loop (the frames of many customers read in one go); sent one by one, each pays
redis-py's per-command work (a connection from the pool, timeouts, retries, its pipeline's
bookkeeping) and two system calls. `BatchedScript` collects the calls of one turn and writes
them as EVALSHA commands in one request (no transaction: each call stays atomic, as a script
is; the order is kept) on a connection of its own, taken from the client's pool once and kept:
about half of redis-py's CPU per script call (bench/relay.py --profile). Calls made while a
request is out go together in the next one, as soon as it is answered.

Errors are per call: a script's error is its own call's. A script Redis does not know (it
restarted, or failed over) is loaded and the call made again by redis-py's own Script, for that
call only. If the connection fails (Redis restarted, a failover, a timeout), the calls not yet
answered are made again one by one through the client, with its own reconnection and retries,
exactly as without batching: each fails as it would alone when Redis is really gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Call = tuple[Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class BatchedScript:
    def __init__(self, redis: Redis, source: str) -> None:
        self.redis = redis
        self.script: AsyncScript = redis.register_script(source)
        self._waiting: list[Call] = []
        self._busy = False  # a request is out on the connection
        self._connection: AbstractConnection | None = None

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((keys, args, done))
        if len(self._waiting) == 1 and not self._busy:  # the first: send all at the turn's end
            loop.call_soon(self._send)
        return await done

    def _send(self) -> None:
        if self._busy or not self._waiting:
            return
        calls, self._waiting = self._waiting, []
        self._busy = True
        asyncio.get_running_loop().create_task(self._run(calls))

    async def _run(self, calls: list[Call]) -> None:
        try:
            answered = await self._request(calls)
        except BaseException as exc:  # not the connection's: every call of the batch fails
            for _, _, done in calls:
                if not done.done():
                    done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._busy = False
            if self._waiting:  # those made meanwhile: the next request, now
                self._send()
        for (keys, args, done), result in zip(calls, answered, strict=False):
            if isinstance(result, NoScriptError):
                await self._alone(keys, args, done)
            elif done.done():
                continue
            elif isinstance(result, Exception):
                done.set_exception(result)
            else:
                done.set_result(result)
        for keys, args, done in calls[len(answered) :]:  # the connection failed before these
            await self._alone(keys, args, done)

    async def _request(self, calls: list[Call]) -> list[Any]:
        """The calls' answers in order, read on this script's own connection; fewer than the
        calls when the connection failed (those left were maybe not run: made again alone)."""
        answered: list[Any] = []
        connection = self._connection
        try:
            if connection is None:
                pool = self.redis.connection_pool
                connection = self._connection = await pool.get_connection()  # type: ignore[no-untyped-call]
            packed: list[bytes] = []
            sha = self.script.sha
            for keys, args, _ in calls:
                packed += connection.pack_command("EVALSHA", sha, len(keys), *keys, *args)
            await connection.send_packed_command(packed)
            for _ in calls:
                try:
                    answered.append(await connection.read_response())
                except ResponseError as exc:
                    answered.append(exc)
        except CONNECTION_ERRORS:
            if connection is not None:
                self._connection = None
                await connection.disconnect(nowait=True)
                await self.redis.connection_pool.release(connection)
        return answered

    async def _alone(
        self, keys: Sequence[Any], args: Sequence[Any], done: asyncio.Future[Any]
    ) -> None:
        """Through redis-py's Script: loads the script if need be, reconnects and retries."""
        try:
            result = await self.script(keys=keys, args=args)
        except Exception as exc:
            if not done.done():
                done.set_exception(exc)
        else:
            if not done.done():
                done.set_result(result)
