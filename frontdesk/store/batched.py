"""Lua script calls made in the same turn of the event loop, sent to Redis in one round trip.

Every relayed message and every bot turn runs one of a few scripts (a message stored with its
turn, an agent's reply, a bot's answer). Under load, many such calls start in the same turn of
the event loop (the frames of many customers read in one go); sent one by one, each pays
redis-py's per-command work (a connection from the pool, timeouts, retries) and two system
calls. `BatchedScript` collects the calls of one turn and sends them as one pipeline of EVALSHA
(no transaction: each call stays atomic, as a script is; the order is kept). A single call in a
turn goes alone, as before. A script Redis does not know (it restarted, or failed over) is
loaded and the call made again by redis-py's own Script, for that call only.

Errors are per call, as without batching: a connection error fails every call of the batch
(each caller turns it into StoreUnavailable), a script's error only its own call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

Call = tuple[Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class BatchedScript:
    def __init__(self, redis: Redis, source: str) -> None:
        self.redis = redis
        self.script: AsyncScript = redis.register_script(source)
        self._waiting: list[Call] = []

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((keys, args, done))
        if len(self._waiting) == 1:  # the first of this turn: send them all at its end
            loop.call_soon(self._send)
        return await done

    def _send(self) -> None:
        calls, self._waiting = self._waiting, []
        asyncio.get_running_loop().create_task(self._run(calls))

    async def _run(self, calls: list[Call]) -> None:
        try:
            if len(calls) == 1:
                keys, args, done = calls[0]
                result = await self.script(keys=keys, args=args)
                if not done.done():
                    done.set_result(result)
                return
            async with self.redis.pipeline(transaction=False) as pipe:
                for keys, args, _ in calls:
                    pipe.evalsha(self.script.sha, len(keys), *keys, *args)
                results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the connection: every call of the batch fails alike
            for _, _, done in calls:
                if not done.done():
                    done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (keys, args, done), result in zip(calls, results, strict=True):
            if isinstance(result, NoScriptError):
                await self._alone(keys, args, done)
            elif done.done():
                continue
            elif isinstance(result, Exception):
                done.set_exception(result)
            else:
                done.set_result(result)

    async def _alone(
        self, keys: Sequence[Any], args: Sequence[Any], done: asyncio.Future[Any]
    ) -> None:
        try:
            result = await self.script(keys=keys, args=args)  # loads the script, then runs it
        except Exception as exc:
            if not done.done():
                done.set_exception(exc)
        else:
            if not done.done():
                done.set_result(result)
