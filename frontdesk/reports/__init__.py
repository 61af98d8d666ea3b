"""Reports for the business, and what the bot could not answer.

    reports = Reports(redis, cases, store, zone, bot_data_dir)
    reports.subscribe(core.bus)        # the aggregator counts domain events into Redis
    figures = await reports.figures(period, filters, team=True)

Everything is computed from what is stored in Redis (per-day aggregates written as events
happen, and the case records), never from the per-process Prometheus counters. Like the rest of
the gateway outside `core/`, nothing here imports aiohttp; the console's views render it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from frontdesk.core.events import EventBus
from frontdesk.reports.aggregator import Aggregator
from frontdesk.reports.figures import compute
from frontdesk.reports.period import Period
from frontdesk.reports.store import Dims, Filters, ReportStore
from frontdesk.reports.tables import Cell, Figures, Table
from frontdesk.reports.training import Training
from frontdesk.reports.unanswered import Unanswered
from frontdesk.store.base import CaseStore, Store

MAX_COMMENTS = 200

__all__ = ["Figures", "Filters", "Period", "Reports", "Table"]


class Reports:
    def __init__(
        self,
        redis: Redis,
        cases: CaseStore,
        store: Store,
        zone: ZoneInfo,
        bot_data_dir: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cases = cases
        self.zone = zone
        self.clock = clock
        self.store = ReportStore(redis)
        self.training = Training(redis, bot_data_dir)
        self.unanswered = Unanswered(redis, self.training)
        self.aggregator = Aggregator(redis, self.store, cases, store, self.unanswered, zone, clock)
        self._bus: EventBus | None = None

    def subscribe(self, bus: EventBus) -> None:
        self._bus = bus
        self.aggregator.subscribe(bus)

    async def settled(self) -> None:
        """Wait until every event published so far has been handled (the aggregator counts
        off the path of the reply: frontdesk.core.events): readers then see them."""
        if self._bus is not None:
            await self._bus.settled()

    async def caught_up(self) -> None:
        """Wait until no event waits to be counted (Redis was away a moment ago)."""
        await self.settled()
        await self.aggregator.deferral.idle()

    async def close(self) -> None:
        """At shutdown: events still waiting for Redis get a moment, then are given up."""
        await self.aggregator.deferral.close()

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock(), self.zone).date()

    def period(self, name: str, start: str = "", end: str = "") -> Period:
        return Period.parse(name or "7d", start, end, self.today())

    async def figures(self, period: Period, filters: Filters, team: bool) -> Figures:
        days = period.days()
        await self.settled()  # the events published before this read are counted in it
        per_day = await self.store.read(days, filters)
        figures = compute(days, per_day, team)
        figures.tables.append(await self.comments(days, filters))
        return figures

    async def forget(self, conversation_id: str) -> int:
        """Erase what the reports keep of one customer's words (their messages in the "could
        not answer" list, pending examples made from them, the contact's state); the counts,
        which hold no words, stay. Returns how many messages were erased. (Comments are read
        from the case records, so erasing the cases erases them from the reports.)"""
        await self.settled()  # an event still queued would write the words back after this
        items = await self.unanswered.forget(conversation_id)
        await self.training.forget_items(items)
        await self.aggregator.contacts.forget(conversation_id)
        return len(items)

    async def comments(self, days: list[str], filters: Filters) -> Table:
        """The survey comments of cases requested on these days (newest first), read from the
        case records."""
        newest_first = dict.fromkeys(reversed(await self.store.comments(days)))  # once each
        ids = list(newest_first)[: MAX_COMMENTS * 4]
        rows: list[list[Cell]] = []
        for case in await self.cases.get_many(ids):
            parts = [case.get(k, "") for k in ("channel", "language", "area", "agent")]
            if not case.get("comment") or not filters.selects(Dims(*parts)):
                continue
            requested = float(case.get("requested_at") or 0)
            day = dt.datetime.fromtimestamp(requested, self.zone).date().isoformat()
            rows.append(
                [
                    day,
                    case.get("id", ""),
                    *parts,
                    _score(case.get("csat")),
                    _score(case.get("effort")),
                    case["comment"],
                ]
            )
            if len(rows) >= MAX_COMMENTS:
                break
        return Table(
            "comments",
            "Comments from the survey",
            ["Day", "Case", "Channel", "Language", "Area", "Agent", "CSAT", "Effort", "Comment"],
            rows,
            None,
            f"The newest {MAX_COMMENTS} at most." if len(rows) >= MAX_COMMENTS else "",
        )


def _score(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
