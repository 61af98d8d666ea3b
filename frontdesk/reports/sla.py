"""The service-level figures of the reports: each case's targets (flows/sla.yml, core/sla.py)
counted once each, as met or missed, on the day the case was requested.

- **First response** of a live chat: met or missed at the agent's first reply (AgentReplied
  with its first-reply time); of a left message: when it is closed (answered by e-mail or in
  the chat, or closed without a reply) — against the reply time promised to the customer.
- **Resolution** of a live chat: at the close (CaseClosed).
- A target whose deadline passed first is counted **missed** when the breach is published
  (SlaBreached), and not again when the late reply or close comes. A customer who cancelled
  or left before the deadline is not counted.

Each outcome is marked in Redis (`fd:rep:sla:<case>:<target>`, SET NX with the counting
event's id): the first event to decide it counts it, every time that event is handled (a
retry after Redis was away), and no other event does. Metrics: `sla_<target>_<met|missed>`,
and per dimension `sla_by:<target>:<met|missed>:<channel|area|agent>:<value>` for the table
by channel, area and agent (bounded by how many channels, areas and agents there are).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from frontdesk.core.events import AgentReplied, CaseClosed, SlaBreached
from frontdesk.core.sla import FIRST, RESOLVE, done_at
from frontdesk.reports.store import Batch, Dims, ReportStore
from frontdesk.store.base import CaseStore
from frontdesk.store.util import redis_errors, text

GUARD_SECONDS = 90 * 86_400
BY = ("channel", "area", "agent")
TARGET_OF = {"first_response": FIRST, "resolution": RESOLVE}


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _clean(value: str) -> str:
    return value.replace("|", "/") or "-"


class SlaCounts:
    def __init__(
        self,
        redis: Redis,
        reports: ReportStore,
        cases: CaseStore,
        zone: ZoneInfo,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.reports = reports
        self.cases = cases
        self.zone = zone
        self.clock = clock

    async def replied(self, event: AgentReplied, event_id: str) -> None:
        if event.first_reply_seconds is None:
            return
        case = await self.cases.get(event.case_id)
        if case and case.get("kind") != "message":  # a left message counts when it is closed
            await self._decide(case, FIRST, event.agent, event_id)

    async def closed(self, event: CaseClosed, event_id: str) -> None:
        case = await self.cases.get(event.case_id)
        if not case:
            return
        target = FIRST if case.get("kind") == "message" else RESOLVE
        await self._decide(case, target, event.agent, event_id)

    async def breached(self, event: SlaBreached, event_id: str) -> None:
        case = await self.cases.get(event.case_id)
        target = TARGET_OF.get(event.target)
        if case and target is not None:
            await self._decide(case, target, event.agent, event_id, missed=True)

    async def _decide(
        self, case: dict[str, str], target: str, agent: str, event_id: str, missed: bool = False
    ) -> None:
        due = _float(case.get(f"sla_{target}_due"))
        finished = done_at(case, target)
        if due is None or (not missed and finished is None):
            return
        if not await self._first_to_decide(case.get("id", ""), target, event_id):
            return
        outcome = "missed" if missed or (finished is not None and finished > due) else "met"
        requested = _float(case.get("requested_at")) or self.clock()
        day = dt.datetime.fromtimestamp(requested, self.zone).date().isoformat()
        dims = Dims(case.get("channel", ""), case.get("language", ""), case.get("area", ""), agent)
        batch = Batch()
        batch.add(day, dims, f"sla_{target}_{outcome}")
        for name, value in zip(BY, (dims.channel, dims.area, dims.agent), strict=True):
            batch.add(day, dims, f"sla_by:{target}:{outcome}:{name}:{_clean(value)}")
        await self.reports.write(batch, event_id)

    async def _first_to_decide(self, case_id: str, target: str, event_id: str) -> bool:
        key = f"fd:rep:sla:{case_id}:{target}"
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(key, event_id, nx=True, ex=GUARD_SECONDS)
                pipe.get(key)
                _, setter = await pipe.execute()
        return setter is not None and text(setter) == event_id
