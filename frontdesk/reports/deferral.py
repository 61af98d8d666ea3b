"""Report events that could not be counted while Redis was away, counted once it is back.

Every event the aggregator handles gets an id (this process's random prefix and a counter: no
Redis round trip). When Redis cannot be reached, the event waits, with its id, in a bounded
in-memory queue (core/later.py, the mechanism that stores replies delivered while Redis was
down), and is handled again, in order, once Redis answers; while events wait, the events that
follow wait behind them (in order, and without waiting on a Redis that is down). Handled
again, an event makes the same decisions and writes its counts once, whatever reached Redis
before the connection dropped (the marks in contacts.py, the per-event marker in store.py).

An outage is logged once ("the store is unavailable …; 3 report events waiting") and its end
once ("the store is back: 57 report events caught up"), not a traceback per event. At most
MAX_WAITING events wait; more are dropped, counted and logged once. Events still waiting when
the gateway stops are lost (logged with their number).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from frontdesk.core.events import Event
from frontdesk.core.later import Later
from frontdesk.errors import StoreUnavailable

MAX_WAITING = 20_000
CLOSE_GRACE = 2.0  # seconds to let waiting events be counted at shutdown
TRANSIENT = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)

E = TypeVar("E", bound=Event)


def transient(exc: BaseException) -> bool:
    """Redis is away (not a bug): worth trying again once it is back."""
    cause = exc.__cause__ if isinstance(exc, StoreUnavailable) else exc
    if isinstance(exc, StoreUnavailable) and cause is None:
        return True
    return isinstance(cause, TRANSIENT)


class Deferral:
    def __init__(self, max_waiting: int = MAX_WAITING) -> None:
        self.later = Later(name="report events", max_waiting=max_waiting)
        self._prefix = secrets.token_hex(6)
        self._count = itertools.count(1)

    def new_id(self) -> str:
        return f"{self._prefix}.{next(self._count)}"

    def guard(self, handler: Callable[[E, str], Awaitable[None]]) -> Callable[[E], Awaitable[None]]:
        """The bus's listener: `handler(event, event_id)` now, or once Redis is back."""

        async def handle(event: E) -> None:
            event_id = self.new_id()

            async def count() -> None:
                try:
                    await handler(event, event_id)
                except Exception as exc:
                    if transient(exc) and not isinstance(exc, StoreUnavailable):
                        raise StoreUnavailable(f"Redis: {exc}") from exc
                    if isinstance(exc, StoreUnavailable) and not transient(exc):
                        raise RuntimeError(str(exc)) from exc  # a bug: not retried
                    raise

            what = f"{type(event).__name__} {event_id}"
            if self.later.busy:  # events are waiting: this one waits behind them
                self.later.run(what, count, failed=True)
                return
            try:
                await count()
            except StoreUnavailable:
                self.later.run(what, count, failed=True)

        return handle

    async def idle(self) -> None:
        """Wait until no event waits (all counted, or given up on)."""
        await self.later.idle()

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.later.idle(), CLOSE_GRACE)
        await self.later.close()
