"""Search as the console and the CLI use it: a query with filters, limited by the role of whoever
asks; erasing conversations from the index; waiting until the index has caught up."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis

from frontdesk.core.events import EventBus
from frontdesk.errors import StoreUnavailable
from frontdesk.search import feed as log_
from frontdesk.search.feed import Feed, Indexer, stream_id
from frontdesk.search.index import Hit, Index, connect, recent, search
from frontdesk.search.text import Query, facet, parse, restricted
from frontdesk.search.worker import INDEX_FILE, IndexerProcess

PAGE_SIZE = 20
# What a plain agent may find besides the conversations they handled: the customers every
# agent already sees in the console (waiting in the live queue, or a left message to answer).
VISIBLE_TO_ALL = ("queued", "left_message")


@dataclass(frozen=True)
class Viewer:
    name: str
    lead: bool  # leads and admins find every conversation


@dataclass(frozen=True)
class Filters:
    channel: str = ""
    language: str = ""
    area: str = ""
    agent: str = ""
    state: str = ""
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive


@dataclass
class Results:
    query: Query
    hits: list[Hit] = field(default_factory=list)
    more: bool = False
    seconds: float = 0.0


def expression(query: Query, filters: Filters, viewer: Viewer) -> str:
    """The query with the filters and the viewer's scope, as one FTS5 expression ("" when it
    would match everything)."""
    wanted = Query(query.expression, query.stems)
    for name in ("channel", "language", "area", "agent", "state"):
        value = getattr(filters, name)
        if value:
            wanted = Query(restricted(wanted, [facet(name, value)]), wanted.stems)
    if not viewer.lead:
        scope = [facet("agent", viewer.name), *(facet("state", s) for s in VISIBLE_TO_ALL)]
        wanted = Query(restricted(wanted, scope), wanted.stems)
    return wanted.expression


def _bounds(filters: Filters, zone: dt.tzinfo) -> tuple[float | None, float | None]:
    def start(day: dt.date) -> float:
        return dt.datetime.combine(day, dt.time(), zone).timestamp()

    since = start(filters.since) if filters.since else None
    until = start(filters.until + dt.timedelta(days=1)) if filters.until else None
    return since, until


class Search:
    def __init__(
        self,
        redis: Redis,
        data_dir: Path,
        zone: dt.tzinfo = dt.UTC,
        redis_url: str | None = None,
    ) -> None:
        """`redis_url`: index in a process of its own on that Redis (frontdesk.search.worker),
        as a gateway does; None: in this process."""
        self.redis = redis
        self.path = data_dir / INDEX_FILE
        self.zone = zone
        self.feed = Feed(redis)
        self.indexer = Indexer(redis, self.path)
        self.worker = IndexerProcess(data_dir, redis_url) if redis_url else None
        self._tasks: list[asyncio.Task[None]] = []
        self._bus: EventBus | None = None

    # -- running (a gateway process) --------------------------------------------------------------

    def start(self, bus: EventBus) -> None:
        self._bus = bus
        self.feed.subscribe(bus)
        self._tasks = [asyncio.create_task(self.feed.run())]
        if self.worker is not None:
            self.worker.start()
        else:
            self._tasks.append(asyncio.create_task(self.indexer.run()))

    async def stop(self) -> None:
        if self._bus is not None:
            await self._bus.settled()
        with contextlib.suppress(StoreUnavailable):
            await self.feed.flush()  # what this process saw, for the machines still running
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.worker is not None:
            await self.worker.stop()

    # -- asking ------------------------------------------------------------------------------------

    async def find(
        self, text: str, filters: Filters, viewer: Viewer, page: int = 1, size: int = PAGE_SIZE
    ) -> Results:
        query = parse(text)
        wanted = expression(query, filters, viewer)
        since, until = _bounds(filters, self.zone)
        offset = max(page - 1, 0) * size
        began = time.perf_counter()

        def run() -> tuple[list[Hit], bool]:
            if not self.path.exists():
                return [], False
            db = connect(self.path, readonly=True)
            try:
                if not wanted:
                    hits = recent(db, since, until, size + 1 + offset)[offset:]
                    return hits[:size], len(hits) > size
                return search(db, wanted, since, until, size, offset)
            finally:
                db.close()

        try:
            hits, more = await asyncio.to_thread(run)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                hits, more = [], False  # the first indexer has not created it yet
            else:
                raise
        return Results(query, hits, more, time.perf_counter() - began)

    # -- erasing and rebuilding ------------------------------------------------------------------

    async def forget(self, conversation_ids: Iterable[str]) -> list[str]:
        """Remove conversations from this machine's index now, and from every other machine's
        through the change log. What was removed, as the erasure report says it."""
        ids = sorted(set(conversation_ids))
        if not ids:
            return []
        removed: list[str] = []

        def drop() -> None:
            if not self.path.exists():
                return
            index = Index(connect(self.path))
            try:
                held = [c for c in ids if index.has(c)]
                index.apply([], held)
                removed.extend(f"search index entry {c} (this machine)" for c in held)
            finally:
                index.close()

        await asyncio.to_thread(drop)
        await log_.append(self.redis, "forget", ids)
        removed.append(
            f"search: the erasure of {len(ids)} conversation(s) sent to every machine's index"
        )
        return removed

    async def rebuild(self) -> int:
        """Rebuild this machine's index now if no gateway here is indexing (it is then done on
        return), else ask every machine's indexer to (done once `caught_up` returns). The
        number of conversations in this machine's index afterwards."""
        if self.indexer.lock.acquire():
            try:
                index = Index(await asyncio.to_thread(connect, self.path))
                try:
                    entry = await log_.append(self.redis, "rebuild")  # every other machine too
                    await self.indexer.rebuild(index, after=entry)
                    return await asyncio.to_thread(index.count)
                finally:
                    index.close()
            finally:
                self.indexer.lock.release()
        await log_.append(self.redis, "rebuild")
        await self.caught_up()
        return await self.count()

    async def count(self) -> int:
        def run() -> int:
            if not self.path.exists():
                return 0
            db = connect(self.path, readonly=True)
            try:
                return int(db.execute("SELECT count(*) FROM docs").fetchone()[0])
            finally:
                db.close()

        return await asyncio.to_thread(run)

    async def cursor(self) -> str:
        def run() -> str:
            if not self.path.exists():
                return ""
            db = connect(self.path, readonly=True)
            try:
                row = db.execute("SELECT value FROM meta WHERE name = 'cursor'").fetchone()
                return str(row[0]) if row else ""
            except sqlite3.OperationalError:
                return ""
            finally:
                db.close()

        return await asyncio.to_thread(run)

    async def caught_up(self, timeout: float = 30.0, poll: float = 0.05) -> None:
        """Return once this machine's index holds every change made before the call (events
        of this process included); TimeoutError if no indexer here gets there in time."""
        if self._bus is not None:
            await self._bus.settled()
        await self.feed.flush()
        target = stream_id(await log_.last_id(self.redis))
        async with asyncio.timeout(timeout):
            while True:
                cursor = await self.cursor()
                if cursor and stream_id(cursor) >= target:
                    return
                await asyncio.sleep(poll)
