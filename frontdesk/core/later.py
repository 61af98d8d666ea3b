"""Writes that must not be lost when the store is briefly down: retried in order, with
back-off, in the background (a reply already delivered is stored once Redis is back; a report
event is counted once Redis is back).

An outage is logged once, not once per write: a warning when the first retry fails, and one
line when everything waiting has been written ("the store is back: 57 report events caught
up"), with how many were dropped because more than `max_waiting` were waiting. The counts are
kept (`written_late`, `dropped`) for whoever wants to show them. A write given with
`failed=True` is here because the store just failed it: it counts as late even if its first
retry works; other writes (run here as a matter of course, off someone's path) count only when
a retry fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from frontdesk.errors import StoreUnavailable

log = logging.getLogger(__name__)

MAX_WAITING = 10_000
MAX_BACKOFF = 30.0


class Later:
    def __init__(
        self, first_backoff: float = 0.5, name: str = "writes", max_waiting: int = MAX_WAITING
    ) -> None:
        self.first_backoff = first_backoff
        self.name = name  # what the writes are, in the log: "replies", "report events"
        self._queue: asyncio.Queue[tuple[str, Callable[[], Awaitable[None]]]] = asyncio.Queue(
            max_waiting
        )
        self._worker: asyncio.Task[None] | None = None
        self.written_late = 0  # since start
        self.dropped = 0  # since start
        self._dropped_now = 0  # in this outage
        self._failed_now = 0  # writes given after a failure, in this drain

    def __len__(self) -> int:
        return self._queue.qsize()

    @property
    def busy(self) -> bool:
        """Writes are waiting, or being written (or retried)."""
        return self._worker is not None and not self._worker.done()

    def run(self, what: str, write: Callable[[], Awaitable[None]], failed: bool = False) -> None:
        """Retry `write` until it succeeds (after the writes queued before it); `failed`: it
        is here because the store failed it (counted, and logged, as written late)."""
        try:
            self._queue.put_nowait((what, write))
            self._failed_now += failed
        except asyncio.QueueFull:
            if not self._dropped_now:
                log.error(
                    "%d %s waiting for the store already; dropping more (first: %s)",
                    len(self),
                    self.name,
                    what,
                )
            self._dropped_now += 1
            self.dropped += 1
            return
        if not self.busy:
            self._worker = asyncio.create_task(self._drain())

    async def idle(self) -> None:
        """Wait until nothing is waiting any more (everything written, or given up on)."""
        while self.busy:
            assert self._worker is not None
            await asyncio.wait([self._worker])

    async def _drain(self) -> None:
        written = 0
        down = False
        while not self._queue.empty():
            what, write = self._queue.get_nowait()
            backoff = self.first_backoff
            while True:
                try:
                    await write()
                    written += 1
                    break
                except StoreUnavailable as exc:
                    if not down:
                        log.warning(
                            "the store is unavailable (%s); %d %s waiting, retried until it is "
                            "back",
                            exc,
                            len(self) + 1,
                            self.name,
                        )
                        down = True
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                except Exception:
                    log.exception("write failed for good: %s", what)
                    break
        late = written if down else min(written, self._failed_now)
        dropped, self._dropped_now, self._failed_now = self._dropped_now, 0, 0
        self.written_late += late
        if late or dropped:
            log.warning(
                "the store is back: %d %s caught up%s",
                late,
                self.name,
                f", {dropped} dropped (more than {self._queue.maxsize} waited)" if dropped else "",
            )

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            if len(self):
                log.error(
                    "%d %s were still waiting for the store at shutdown", len(self), self.name
                )
