"""Honest waits: queue status for each waiting customer, and "Typically replies in …".

Everything here is computed from live data (agents online, their free slots, the ages of the
conversations they hold, recent handle and first-response times) and errs on the long side.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from frontdesk.core.conversation import Conversations
from frontdesk.core.estimate import Estimate, Slots, estimate_waits
from frontdesk.core.events import (
    AgentsChanged,
    CaseAssigned,
    CaseCancelled,
    CaseClosed,
    CaseQueued,
    EventBus,
    LanguageChanged,
    MessageLeft,
)
from frontdesk.core.hours import Hours
from frontdesk.core.metrics import Metrics
from frontdesk.core.outbox import Outbox
from frontdesk.core.quotes import QueueStatus, Quotes
from frontdesk.core.templates import Templates
from frontdesk.core.wait_config import WaitConfig
from frontdesk.store.base import AgentStore, CaseStore

log = logging.getLogger(__name__)

LIVE_STATUS_CHANNELS = {"widget"}  # channels that show a live status line; others get text
SAMPLE_WINDOW = 7 * 24 * 3600
HEADER_TTL = 5.0  # seconds a computed "typically replies in …" is reused
FALLBACK_SECONDS = 3600.0  # what header_fallback promises ("within an hour")


@dataclass
class Waits(Quotes):
    conversations: Conversations
    cases: CaseStore
    agents: AgentStore
    outbox: Outbox
    templates: Templates
    hours: Hours
    config: WaitConfig
    metrics: Metrics
    clock: Callable[[], float] = time.time
    default_capacity: int = 3
    _samples: tuple[float, list[float], list[float], list[float]] = (0.0, [], [], [])
    _deferred: asyncio.Task[None] | None = field(default=None, repr=False)
    _publisher: asyncio.Task[None] | None = field(default=None, repr=False)
    _dirty: bool = False
    _headers: dict[str, tuple[float, str]] = field(default_factory=dict, repr=False)

    # -- data -------------------------------------------------------------------------------------

    async def _recent(self) -> tuple[list[float], list[float], list[float]]:
        """Handle times, first-response times and pick-up times (the wait of customers quoted
        with a free slot) of recent closed cases (cached 30 s)."""
        now = self.clock()
        if now - self._samples[0] < 30:
            return self._samples[1], self._samples[2], self._samples[3]
        ids = await self.cases.closed_since(now - SAMPLE_WINDOW)
        rows = await self.cases.get_many(ids[-500:])
        handle = [float(r["closed_at"]) - float(r["joined_at"]) for r in rows if r.get("joined_at")]
        first = [
            float(r["first_reply_at"]) - float(r["requested_at"])
            for r in rows[-self.config.recent_handoffs :]
            if r.get("first_reply_at")
        ]
        pickup = [
            float(r["joined_at"]) - float(r["requested_at"])
            for r in rows
            if r.get("joined_at") and r.get("quote_reason") == "free"
        ]
        self._samples = (now, handle, first, pickup)
        return handle, first, pickup

    async def _slots(self) -> list[Slots]:
        presence = await self.agents.presence()
        available = [
            n for n, (status, online) in presence.items() if status == "available" and online
        ]
        slots = []
        now = self.clock()
        for name in available:
            info = await self.agents.get(name)
            if not info:
                continue
            capacity = int(info.get("capacity") or self.default_capacity)
            held = await self.cases.get_many(await self.cases.agent_cases(name))
            elapsed = tuple(now - float(c.get("joined_at") or now) for c in held)
            slots.append(Slots(capacity, elapsed))
        return slots

    async def anyone_online(self) -> bool:
        return bool(await self._slots())

    async def statuses(self) -> list[QueueStatus]:
        queue = await self.cases.queue()
        self.metrics.waiting.set(len(queue))
        if not queue:
            return []
        slots = await self._slots()
        estimates = await self._estimates(len(queue), slots)
        rows = await self.cases.get_many([case_id for case_id, _ in queue])
        served = sum(len(s.busy_elapsed) for s in slots)
        return [
            QueueStatus(
                case_id=row["id"],
                conversation_id=row["conversation_id"],
                channel=row.get("channel", "widget"),
                language=row.get("language", self.templates.default_language),
                position=index + 1,
                estimate=estimates[index] if estimates else None,
                agents_online=len(slots),
                customers_served=served,
                waiting=len(queue),
                pushed=row,
            )
            for index, row in enumerate(rows)
        ]

    async def _estimates(self, waiting: int, slots: list[Slots]) -> list[Estimate] | None:
        """Estimates for positions 1..waiting, from recent handle and pick-up times."""
        handle, _, pickup = await self._recent()
        if len(handle) < self.config.min_samples:
            handle = [m * 60 for m in self.config.default_handle_minutes]
        pickups: list[float] | float = pickup
        if len(pickup) < self.config.min_samples:
            pickups = self.config.pickup_seconds
        return estimate_waits(
            waiting,
            slots,
            handle,
            pickup=pickups,
            low_q=self.config.low_quantile,
            high_q=self.config.high_quantile,
            seed=int(self.clock()) // 60,
        )

    async def status_of(self, case_id: str) -> QueueStatus | None:
        return next((s for s in await self.statuses() if s.case_id == case_id), None)

    async def record_quote(self, status: QueueStatus) -> None:
        """Keep the first quote a customer saw with the case (to learn from and to audit)."""
        fields = {"quote_reason": status.reason, "quote_position": str(status.position)}
        if status.estimate is not None:
            fields.update(
                quote_low=f"{status.estimate.low:.0f}", quote_high=f"{status.estimate.high:.0f}"
            )
        await self.cases.update(status.case_id, fields)

    async def typical_reply(self, language: str) -> str:
        """The widget header's promise, from real first-response times and, when the line is
        long now, from the wait a customer asking now would be quoted: the header and the
        queue message come from the same estimate and never contradict each other. Cached
        for a few seconds (every new page asks), dropped when the line or the agents change."""
        now = self.clock()
        cached = self._headers.get(language)
        if cached is not None and now - cached[0] < HEADER_TTL:
            return cached[1]
        text = await self._typical_reply(language)
        self._headers[language] = (now, text)
        return text

    async def _typical_reply(self, language: str) -> str:
        if not self.is_open():
            return self.templates.render(language, "header_closed", **self.reopening(language))
        slots = await self._slots()
        if not slots:
            return self.templates.render(language, "header_offline")
        _, first, _ = await self._recent()
        typical: float | None = None
        if len(first) >= self.config.min_handoffs:
            typical = sorted(first)[
                min(len(first) - 1, math.ceil(self.config.typical_quantile * len(first)) - 1)
            ]
        line = await self.cases.queue()
        if line:  # what someone asking now would be quoted, if that is longer
            estimates = await self._estimates(len(line) + 1, slots)
            now_high = estimates[-1].shown_high if estimates else None
            fallback = typical if typical is not None else FALLBACK_SECONDS
            if now_high is not None and now_high > fallback:
                typical = float(now_high)
        if typical is None:
            return self.templates.render(language, "header_fallback")
        seconds = typical
        if seconds <= 10:
            return self.templates.render(language, "header_instant")
        minutes = math.ceil(seconds / 60)
        if minutes < 90:
            return self.templates.render(language, "header_minutes", minutes=minutes)
        return self.templates.render(language, "header_hours", hours=math.ceil(minutes / 60))

    # -- pushing ----------------------------------------------------------------------------------

    async def publish(self) -> None:
        """Push each waiting customer's status when it changed materially, rate limited."""
        now = self.clock()
        pending = False
        for status in await self.statuses():
            shown = status.pushed
            last_position = int(shown.get("status_position") or 0)
            last_high = float(shown.get("status_high") or 0)
            last_reason = shown.get("status_reason", "")
            high = status.estimate.high_minutes if status.estimate else 0
            moved = abs(high - last_high) > self.config.material_change * max(last_high, 1)
            changed = status.position != last_position or status.reason != last_reason
            if not (changed or moved):
                continue
            if now - float(shown.get("status_at") or 0) < self.config.min_interval_seconds:
                pending = True
                continue
            await self.push(status, text_too=changed)
        if pending:
            self._defer()

    async def push(self, status: QueueStatus, text_too: bool) -> None:
        if status.channel in LIVE_STATUS_CHANNELS:
            await self.outbox.event(
                status.conversation_id, status.channel, "queue_status", self.payload(status)
            )
        elif text_too:
            message = self.status_message(status, self._cancel_button(status))
            await self.outbox.send(status.conversation_id, status.channel, message)
        await self.cases.update(
            status.case_id,
            {
                "status_position": str(status.position),
                "status_high": str(status.estimate.high_minutes if status.estimate else 0),
                "status_reason": status.reason,
                "status_at": f"{self.clock():.3f}",
            },
        )

    def _defer(self) -> None:
        if self._deferred is not None and not self._deferred.done():
            return

        async def later() -> None:
            await asyncio.sleep(self.config.min_interval_seconds)
            try:
                await self.publish()
            except Exception:
                log.exception("deferred queue status failed")

        self._deferred = asyncio.create_task(later())

    def request_publish(self) -> None:
        """Publish soon; a burst of queue changes (claims, closes) costs one or two publishes."""
        self._dirty = True
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.create_task(self._publish_while_dirty())

    async def _publish_while_dirty(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await self.publish()
            except Exception:
                log.exception("queue status failed")

    async def close(self) -> None:
        for task in (self._deferred, self._publisher):
            if task is not None:
                task.cancel()

    # -- listening --------------------------------------------------------------------------------

    def subscribe(self, bus: EventBus) -> None:
        """Waits change when the queue or the agents change; a customer who stops waiting
        (cancelled, took the leave-a-message path, or got an agent) loses the status line."""
        for kind in (CaseQueued, CaseClosed, AgentsChanged, MessageLeft):
            bus.subscribe(kind, self._changed)
        bus.subscribe(CaseCancelled, self._left_queue)
        bus.subscribe(CaseAssigned, self._left_queue)
        bus.subscribe(LanguageChanged, self._language_changed)

    async def _changed(self, event: object) -> None:
        self._headers.clear()
        self.request_publish()

    async def _language_changed(self, event: LanguageChanged) -> None:
        """A waiting customer who switched language reads their place in line, and its
        buttons, in the new one at once (and in every later update)."""
        conversation = await self.conversations.get(event.conversation_id)
        if not conversation.waiting:
            return
        await self.cases.update(conversation.case_id, {"language": event.language})
        if conversation.channel in LIVE_STATUS_CHANNELS:
            status = await self.status_of(conversation.case_id)
            if status is not None:
                await self.push(status, text_too=False)

    async def _left_queue(self, event: CaseCancelled | CaseAssigned) -> None:
        if isinstance(event, CaseAssigned) and not event.waiting:
            return  # a left message was taken: its customer was never in the live queue
        self._headers.clear()
        conversation = await self.conversations.get(event.conversation_id)
        await self.clear(conversation.id, conversation.channel)
        self.request_publish()

    async def clear(self, conversation_id: str, channel: str) -> None:
        if channel in LIVE_STATUS_CHANNELS:
            cleared = {"text": None, "cleared": True}
            await self.outbox.event(conversation_id, channel, "queue_status", cleared)
