"""The reports' aggregates in Redis: per-day counters, in total, per dimension and per cell.

Per business day (`YYYY-MM-DD` in the business time zone):

- `fd:rep:t:<day>`                 metric -> count, over everything (a report without filters);
- `fd:rep:r:<day>:<dim>:<value>`   metric -> count for one channel, language, FAQ area or agent
  (a report filtered on one dimension reads just these);
- `fd:rep:c:<day>:a:<agent>` and `fd:rep:c:<day>:c:<channel>`
  "<channel>|<language>|<area>|<agent>|<metric>" -> count: the cells, split by agent (`-` for
  counts without one) and, a second time, by channel — for reports filtered on several
  dimensions; `fd:rep:parts:<day>` lists the agent splits of the day.

A metric is a name such as `conv`, `handoff:topic`, `queue_b:17` (bucket 17 of the time in
queue, see buckets.py) or `answer:billing/invoice_copy`. Every increment goes to the total, the
dimensions' hashes and the cell in one pipeline; the keys live KEEP_DAYS. Their sizes depend on
how many distinct (channel, language, area, agent) combinations occur, not on the number of
conversations: a report over a month reads a bounded number of fields whatever the volume.
A report filtered on an agent and more scans that agent's cells only (HSCAN MATCH), one on a
channel and more that channel's cells; one on language and area only, every agent's cells.

Also per day: `fd:rep:comments:<day>`, the ids of cases whose survey has a comment (the text
stays in the case; a case erased with its customer drops out of the report).

**Once per event.** A batch is written by one Lua script together with a marker for the event
it counts, `fd:rep:ev:<event id>` (SET NX, kept MARK_SECONDS): a batch whose marker is there is
not written again. So an event counted again after Redis went away (the increments may have
reached Redis before the connection dropped, see deferral.py) is counted once — if it is
counted again within MARK_SECONDS of the first try; after a longer outage, an event whose
write was in flight when Redis went away could count twice (at most the few in flight then).
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from frontdesk.store.batched import BatchedScript
from frontdesk.store.util import redis_errors, text

KEEP_DAYS = 400
SEP = "|"
NO_AGENT = "-"
SCAN_COUNT = 20_000
MAX_COMMENTS_PER_DAY = 2000
DIMENSIONS = ("channel", "language", "area", "agent")
MARK_SECONDS = 3600  # how long an event's batch is known to be written

# KEYS[1]: the event's marker; KEYS[2..]: the hashes and sets written. ARGV[1]: seconds to keep
# the marker, ARGV[2]: seconds to keep the rest, ARGV[3]: how many increments (n) follow as
# (key index, field, amount) triples; then (key index, member) pairs to add to sets.
WRITE_ONCE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local i = 4
for _ = 1, tonumber(ARGV[3]) do
  redis.call('HINCRBY', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
  i = i + 3
end
while i < #ARGV do
  redis.call('SADD', KEYS[tonumber(ARGV[i])], ARGV[i + 1])
  i = i + 2
end
for k = 2, #KEYS do redis.call('EXPIRE', KEYS[k], ARGV[2]) end
return 1
"""


def total_key(day: str) -> str:
    return f"fd:rep:t:{day}"


def rollup_key(day: str, dimension: str, value: str) -> str:
    return f"fd:rep:r:{day}:{dimension}:{value}"


def cell_key(day: str, agent: str) -> str:
    return f"fd:rep:c:{day}:a:{agent or NO_AGENT}"


def channel_cell_key(day: str, channel: str) -> str:
    return f"fd:rep:c:{day}:c:{channel or NO_AGENT}"


def parts_key(day: str) -> str:
    return f"fd:rep:parts:{day}"


def comments_key(day: str) -> str:
    return f"fd:rep:comments:{day}"


def mark_key(event_id: str) -> str:
    return f"fd:rep:ev:{event_id}"


def _clean(value: str) -> str:
    return value.replace(SEP, "/")


@dataclass(frozen=True)
class Dims:
    """Where a count belongs: channel, language, FAQ area, agent ("" when not known)."""

    channel: str = ""
    language: str = ""
    area: str = ""
    agent: str = ""

    def values(self) -> tuple[str, str, str, str]:
        return (self.channel, self.language, self.area, self.agent)

    def field(self, metric: str) -> str:
        return SEP.join(_clean(p) for p in self.values()) + SEP + metric


@dataclass(frozen=True)
class Filters:
    """What a report is limited to; "" is "any"."""

    channel: str = ""
    language: str = ""
    area: str = ""
    agent: str = ""

    def values(self) -> tuple[str, str, str, str]:
        return (self.channel, self.language, self.area, self.agent)

    @property
    def empty(self) -> bool:
        return not any(self.values())

    @property
    def single(self) -> tuple[str, str] | None:
        """(dimension, value) when exactly one dimension is filtered."""
        chosen = [(d, v) for d, v in zip(DIMENSIONS, self.values(), strict=True) if v]
        return chosen[0] if len(chosen) == 1 else None

    def pattern(self) -> str:
        """HSCAN MATCH pattern over cell fields (channel|language|area|agent|metric)."""
        parts = [_glob(_clean(v)) if v else "*" for v in self.values()]
        return SEP.join(parts) + SEP + "*"

    def selects(self, dims: Dims) -> bool:
        pairs = zip(self.values(), dims.values(), strict=True)
        return all(not want or want == got for want, got in pairs)


def _glob(value: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", value)


class Batch:
    """Increments collected during one event, written in one pipeline."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (key, field, day) -> n

    def _add(self, key: str, field: str, day: str, n: int) -> None:
        self.counts[(key, field, day)] += n

    def add(self, day: str, dims: Dims, metric: str, n: int = 1) -> None:
        self._add(total_key(day), metric, day, n)
        for dimension, value in zip(DIMENSIONS, dims.values(), strict=True):
            if value:
                self._add(rollup_key(day, dimension, value), metric, day, n)
        self._add(cell_key(day, dims.agent), dims.field(metric), day, n)
        self._add(channel_cell_key(day, dims.channel), dims.field(metric), day, n)

    def move(self, day: str, source: Dims, target: Dims, metric: str, n: int = 1) -> None:
        """Move a count from one cell to another (the total does not change)."""
        for count, dims in ((-n, source), (n, target)):
            self._add(cell_key(day, dims.agent), dims.field(metric), day, count)
            self._add(channel_cell_key(day, dims.channel), dims.field(metric), day, count)
        for dimension, old, new in zip(DIMENSIONS, source.values(), target.values(), strict=True):
            if old != new:
                if old:
                    self._add(rollup_key(day, dimension, old), metric, day, -n)
                if new:
                    self._add(rollup_key(day, dimension, new), metric, day, n)

    def __bool__(self) -> bool:
        return any(self.counts.values())


class ReportStore:
    def __init__(self, redis: Redis, keep_days: int = KEEP_DAYS) -> None:
        self.redis = redis
        self.keep_seconds = keep_days * 86_400
        self._write_once = BatchedScript(redis, WRITE_ONCE)  # every report event: batched

    async def write(self, batch: Batch, event_id: str | None = None) -> bool:
        """Write the batch in one round trip, unless the event's batch was written already;
        returns whether it was written now."""
        if not batch:
            return False
        keys: dict[str, int] = {mark_key(event_id or secrets.token_hex(8)): 1}
        increments: list[str | int] = []
        members: list[str | int] = []

        def index(key: str) -> int:
            return keys.setdefault(key, len(keys) + 1)

        parts: set[tuple[str, str]] = set()
        for (key, field, day), n in batch.counts.items():
            if n:
                increments += [index(key), field, n]
                if key.startswith(f"fd:rep:c:{day}:a:"):
                    parts.add((day, key.rsplit(":", 1)[1]))
        for day, agent in sorted(parts):
            members += [index(parts_key(day)), agent]
        args = [MARK_SECONDS, self.keep_seconds, len(increments) // 3, *increments, *members]
        with redis_errors():
            return bool(await self._write_once(keys=list(keys), args=args))

    async def add_comment(self, day: str, case_id: str) -> None:
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.rpush(comments_key(day), case_id)
                pipe.ltrim(comments_key(day), -MAX_COMMENTS_PER_DAY, -1)
                pipe.expire(comments_key(day), self.keep_seconds)
                await pipe.execute()

    async def comments(self, days: Iterable[str]) -> list[str]:
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for day in days:
                    pipe.lrange(comments_key(day), 0, -1)
                rows = await pipe.execute()
        return [text(case_id) for row in rows for case_id in row]

    async def read(self, days: list[str], filters: Filters) -> dict[str, Counter[str]]:
        """day -> metric -> count, over what the filters select."""
        single = filters.single
        if filters.empty or single is not None:
            with redis_errors():
                async with self.redis.pipeline(transaction=False) as pipe:
                    for day in days:
                        pipe.hgetall(total_key(day) if single is None else rollup_key(day, *single))
                    rows = await pipe.execute()
            return {
                day: Counter({text(k): int(v) for k, v in row.items()})
                for day, row in zip(days, rows, strict=True)
            }
        return await self._cells(days, filters)

    async def _cells(self, days: list[str], filters: Filters) -> dict[str, Counter[str]]:
        """Several filters: the agent's cells, or the channel's, or every agent's, scanned for
        the others."""
        if filters.agent:
            keys = {day: [cell_key(day, filters.agent)] for day in days}
        elif filters.channel:
            keys = {day: [channel_cell_key(day, filters.channel)] for day in days}
        else:
            with redis_errors():
                async with self.redis.pipeline(transaction=False) as pipe:
                    for day in days:
                        pipe.smembers(parts_key(day))
                    rows = await pipe.execute()
            keys = {
                day: [cell_key(day, text(a)) for a in sorted(row)]
                for day, row in zip(days, rows, strict=True)
            }
        found: dict[str, Counter[str]] = {day: Counter() for day in days}
        pattern = filters.pattern()
        cursors = {(day, key): 0 for day in days for key in keys[day]}
        while cursors:
            with redis_errors():
                async with self.redis.pipeline(transaction=False) as pipe:
                    for (_, key), cursor in cursors.items():
                        pipe.hscan(key, cursor, match=pattern, count=SCAN_COUNT)
                    rows = await pipe.execute()
            following: dict[tuple[str, str], int] = {}
            for (day, key), (cursor, fields) in zip(cursors, rows, strict=True):
                _collect(found[day], fields, filters)
                if int(cursor):
                    following[(day, key)] = int(cursor)
            cursors = following
        return found


def _collect(into: Counter[str], fields: dict[Any, Any], filters: Filters) -> None:
    """Add the selected cells' counts (HSCAN MATCH already kept about these; checked exactly)."""
    channel, language, area, agent = filters.values()
    for raw, count in fields.items():
        try:
            got_channel, got_language, got_area, got_agent, metric = text(raw).split(SEP, 4)
        except ValueError:
            continue
        if (
            (not channel or channel == got_channel)
            and (not language or language == got_language)
            and (not area or area == got_area)
            and (not agent or agent == got_agent)
        ):
            into[metric] += int(count)
