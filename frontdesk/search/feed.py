"""What keeps every machine's index current: the change log in Redis, and one indexer a machine.

**The change log** (`fd:search:log`, a Redis stream shared by every gateway process): each
process's `Feed` listens to the domain events in the background (`bus.subscribe(...,
background=True)`: never on the path of a reply), gathers the conversations (or cases) they
name in a set, and writes them as ONE stream entry every FLUSH_EVERY seconds — one XADD per
batch, not one per message; the indexer reads at most every INDEX_EVERY seconds, so a busy
conversation is read again a few times a minute, not after each of its messages. Erasure
writes a `forget` entry, `customers reindex` a `rebuild` entry. The stream keeps the last
LOG_LENGTH entries (hours of traffic).

**The indexer** (one per machine: whichever gateway process on it holds `DATA_DIR/search.lock`,
an flock the kernel releases if the process dies; the others take over) reads the log from
where it stopped (its cursor, kept in the index file and written in the same transaction as
the documents), reads those conversations from Redis as they are now, and writes them — or
removes them, when they are gone or forgotten — in one SQLite transaction per batch. An index
without a cursor, or whose cursor the log has trimmed away (the machine was off for long),
is rebuilt from every conversation in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from frontdesk.core import events as ev
from frontdesk.errors import StoreUnavailable
from frontdesk.search import docs as documents
from frontdesk.search.index import Index, connect
from frontdesk.store.redis import RedisStore
from frontdesk.store.util import call, redis_errors, text

log = logging.getLogger(__name__)

LOG = "fd:search:log"
LOG_LENGTH = 100_000  # entries kept (approximately)
FLUSH_EVERY = 1.0  # seconds the feed gathers changes before one XADD
# Seconds the indexer waits after a batch: a conversation being written in is read again at most
# this often (each read is its whole transcript), not after every message it gets.
INDEX_EVERY = 2.0
READ_BLOCK_MS = 1000
BATCH = 200  # log entries read at once
REBUILD_CHUNK = 200  # conversations read from Redis at once during a rebuild
RETRY = 2.0  # seconds before the indexer tries again (Redis down, lock held elsewhere)

# Events naming a conversation, and those naming only a case.
BY_CONVERSATION: tuple[type[ev.Event], ...] = (
    ev.ConversationOpened,
    ev.LanguageChanged,
    ev.BotAnswered,
    ev.BotDeclined,
    ev.CustomerSaid,
    ev.CaseQueued,
    ev.CaseCancelled,
    ev.CaseAssigned,
    ev.CaseTransferred,
    ev.CaseClosed,
    ev.CaseUpdated,
    ev.MessageLeft,
)
BY_CASE: tuple[type[ev.Event], ...] = (ev.AgentReplied, ev.SurveyCommented, ev.SurveyAnswered)


def stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms or 0), int(seq or 0)


async def append(redis: Redis, op: str, ids: Iterable[str] = ()) -> str:
    """One entry on the change log; its id."""
    fields: dict[Any, Any] = {"op": op, "ids": json.dumps(sorted(ids))}
    entry = await call(redis.xadd(LOG, fields, maxlen=LOG_LENGTH, approximate=True))
    return text(entry)


async def last_id(redis: Redis) -> str:
    rows = await call(redis.xrevrange(LOG, count=1))
    return text(rows[0][0]) if rows else "0-0"


class Feed:
    """The domain events of this process, batched onto the change log."""

    def __init__(self, redis: Redis, flush_every: float = FLUSH_EVERY) -> None:
        self.redis = redis
        self.flush_every = flush_every
        self.pending: set[str] = set()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def subscribe(self, bus: ev.EventBus) -> None:
        for kind in BY_CONVERSATION:
            bus.subscribe(kind, self._conversation, background=True)
        for kind in BY_CASE:
            bus.subscribe(kind, self._case, background=True)

    async def _conversation(self, event: Any) -> None:
        self.pending.add("c:" + event.conversation_id)
        self._wake.set()

    async def _case(self, event: Any) -> None:
        self.pending.add("k:" + event.case_id)
        self._wake.set()

    async def flush(self) -> None:
        """Write what is pending as one entry now (kept for the next try if Redis fails)."""
        async with self._lock:
            if not self.pending:
                return
            batch, self.pending = self.pending, set()
            try:
                await append(self.redis, "index", batch)
            except StoreUnavailable:
                self.pending |= batch
                raise

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.flush_every)  # gather what comes meanwhile
            try:
                await self.flush()
            except StoreUnavailable as exc:
                log.warning("search feed: %s (kept, retried)", exc)
                await asyncio.sleep(RETRY)
                self._wake.set()


class MachineLock:
    """`DATA_DIR/search.lock`: held by the one process of this machine that writes the index."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


class Indexer:
    """Applies the change log to this machine's index file (see the module)."""

    def __init__(self, redis: Redis, path: Path) -> None:
        self.redis = redis
        self.path = path
        self.lock = MachineLock(path.with_suffix(".lock"))
        self.on_applied: Callable[[], Awaitable[None]] | None = None
        self.index_every = INDEX_EVERY

    async def run(self) -> None:
        """Forever: become this machine's indexer when the lock is free, then follow the log."""
        while True:
            if not self.lock.acquire():
                await asyncio.sleep(RETRY)
                continue
            try:
                index = Index(await asyncio.to_thread(connect, self.path))
                try:
                    await self.follow(index)
                finally:
                    index.close()  # after a write a cancelled task left running, if any
            except StoreUnavailable as exc:
                log.warning("search indexer: %s", exc)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("search indexer failed; starting over")
            finally:
                self.lock.release()
            await asyncio.sleep(RETRY)

    async def follow(self, index: Index, once: bool = False) -> None:
        cursor = index.get_meta("cursor") or ""
        if not cursor or await self._trimmed_past(cursor):
            cursor = await self.rebuild(index)
        while True:
            with redis_errors():
                answer: Any = await self.redis.xread(
                    {LOG: cursor}, count=BATCH, block=READ_BLOCK_MS
                )
            if isinstance(answer, dict):  # RESP3
                answer = list(answer.items())
            entries: list[Any] = list(answer[0][1]) if answer else []
            if entries:
                cursor = await self._apply(index, entries)
                if not once:
                    await asyncio.sleep(self.index_every)  # let more changes gather
            if once and not entries:
                return

    async def _trimmed_past(self, cursor: str) -> bool:
        """The log no longer holds the entry after `cursor` (trimmed while we were away)."""
        rows = await call(self.redis.xrange(LOG, count=1))
        if not rows or stream_id(cursor) == (0, 0):
            return False
        return stream_id(text(rows[0][0])) > stream_id(cursor)

    async def _apply(self, index: Index, entries: list[Any]) -> str:
        conversations: set[str] = set()
        cases: list[str] = []
        forgotten: set[str] = set()
        cursor = text(entries[-1][0])
        for entry_id, raw in entries:
            fields = {text(k): text(v) for k, v in raw.items()}
            ids = json.loads(fields.get("ids") or "[]")
            if fields.get("op") == "rebuild":
                return await self.rebuild(index, after=text(entry_id))
            if fields.get("op") == "forget":
                forgotten.update(ids)
                conversations.difference_update(ids)
                continue
            for item in ids:
                kind, _, value = str(item).partition(":")
                if kind == "c":
                    conversations.add(value)
                elif kind == "k":
                    cases.append(value)
        conversations.update(await documents.conversations_of_cases(self.redis, cases))
        docs = await documents.read(self.redis, conversations)
        found = [d for d in docs.values() if d is not None]
        gone = forgotten | {c for c, d in docs.items() if d is None}
        await asyncio.to_thread(index.apply, found, gone, {"cursor": cursor})
        await self._applied()
        return cursor

    async def rebuild(self, index: Index, after: str = "") -> str:
        """Every conversation in Redis, indexed anew; the log is followed from `after` (or
        from its end when the rebuild started)."""
        cursor = after or await last_id(self.redis)
        await asyncio.to_thread(index.apply, [], (), {"cursor": ""}, True)
        ids, _ = await RedisStore(self.redis).scan_conversations()
        ordered = sorted(ids)
        for start in range(0, len(ordered), REBUILD_CHUNK):
            docs = await documents.read(self.redis, ordered[start : start + REBUILD_CHUNK])
            found = [d for d in docs.values() if d is not None]
            await asyncio.to_thread(index.apply, found)
        await asyncio.to_thread(index.apply, [], (), {"cursor": cursor})
        log.info("search index rebuilt: %d conversation(s)", len(ordered))
        await self._applied()
        return cursor

    async def _applied(self) -> None:
        if self.on_applied is not None:
            with contextlib.suppress(Exception):
                await self.on_applied()
