"""Writes that must not be lost when the store is briefly down: retried in order, with
back-off, in the background (a reply already delivered is stored once Redis is back)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from frontdesk.errors import StoreUnavailable

log = logging.getLogger(__name__)

MAX_WAITING = 10_000
MAX_BACKOFF = 30.0


class Later:
    def __init__(self, first_backoff: float = 0.5) -> None:
        self.first_backoff = first_backoff
        self._queue: asyncio.Queue[tuple[str, Callable[[], Awaitable[None]]]] = asyncio.Queue(
            MAX_WAITING
        )
        self._worker: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return self._queue.qsize()

    def run(self, what: str, write: Callable[[], Awaitable[None]]) -> None:
        """Retry `write` until it succeeds (after the writes queued before it)."""
        try:
            self._queue.put_nowait((what, write))
        except asyncio.QueueFull:
            log.error("too many writes waiting for the store; dropping: %s", what)
            return
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while not self._queue.empty():
            what, write = self._queue.get_nowait()
            backoff = self.first_backoff
            while True:
                try:
                    await write()
                    break
                except StoreUnavailable as exc:
                    log.warning("store still unavailable for %s (%s); retrying", what, exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                except Exception:
                    log.exception("write failed for good: %s", what)
                    break

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            if len(self):
                log.error("%d writes were still waiting for the store at shutdown", len(self))
