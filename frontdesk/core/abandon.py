"""Customers who leave do not stay in line: the abandonment rule.

**Widget.** A waiting customer none of whose pages has been open for `abandon_after_seconds`
(flows/waits.yml; 3 minutes by default) leaves the live line; any page of the conversation that
comes back in time keeps the place. With an e-mail on file (the bot picked it up, or the page or
the pre-chat form gave it) the request becomes a left message, promised within opening hours like
any other; otherwise the case closes as *abandoned*. Either way the customer finds a message
saying so when they come back, and the positions and estimates of everyone behind them move up.

**Telegram and Messenger** have no page that closes: the app delivers the agent's reply whenever
it comes, so those customers keep their place while the line moves. A request of theirs still
waiting after `platform_abandon_after_hours` (24 by default, Messenger's standard reply window) is
closed as abandoned, and the customer is told in the app that they can write again any time.

Presence, across gateway processes: when a process holds no page of a conversation any more the
widget channel says so and the conversation is marked away in the case store, with the time; a
page opened clears the mark; and at every sweep each process clears the marks of every
conversation it holds a page of — so a customer whose other tab is on another process is never
taken for gone, and a mark left by a process that died is cleared by the one the customer
reconnected to. A gateway that starts marks every waiting widget customer away (keeping older
marks): the connections of a process that died are gone with it, and the customers who are still
there reconnect within seconds.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from frontdesk.core.conversation import (
    Case,
    CaseKind,
    CaseState,
    Conversation,
    Conversations,
    TransitionRefused,
)
from frontdesk.core.handoff import Handoff
from frontdesk.core.messages import Outbound
from frontdesk.core.periodic import repeat
from frontdesk.core.wait_config import WaitConfig
from frontdesk.core.waits import LIVE_STATUS_CHANNELS
from frontdesk.errors import StoreUnavailable
from frontdesk.store.base import CaseStore

log = logging.getLogger(__name__)

MAX_SWEEP_EVERY = 15.0  # seconds between sweeps at most


@dataclass
class Abandonment:
    conversations: Conversations
    cases: CaseStore
    handoff: Handoff
    config: WaitConfig
    clock: Callable[[], float] = time.time
    _watchers: list[Callable[[], Iterable[str]]] = field(default_factory=list, repr=False)

    async def page_opened(self, conversation_id: str) -> None:
        await self.cases.mark_back(conversation_id)

    async def page_closed(self, conversation_id: str) -> None:
        await self.cases.mark_away(conversation_id, self.clock())

    def watch(self, here: Callable[[], Iterable[str]]) -> None:
        """`here` names the conversations with a page open on this process."""
        self._watchers.append(here)

    async def still_here(self) -> None:
        """Clear the away marks of every conversation with a page on this process."""
        here = sorted({c for watcher in self._watchers for c in watcher()})
        for start in range(0, len(here), 1000):
            await self.cases.forget_away(here[start : start + 1000])

    async def everyone_away(self) -> int:
        """At start-up: every waiting widget customer is away until a page of theirs is seen
        (an earlier mark is kept)."""
        rows = await self.cases.get_many([case_id for case_id, _ in await self.cases.queue()])
        now = self.clock()
        marked = 0
        for row in rows:
            if row.get("channel", "widget") in LIVE_STATUS_CHANNELS:
                await self.cases.mark_away(row["conversation_id"], now, keep_older=True)
                marked += 1
        return marked

    async def sweep(self) -> int:
        """Take out of the line every customer the rule says has left; how many were."""
        now = self.clock()
        queue = await self.cases.queue()
        rows = {r["conversation_id"]: r for r in await self.cases.get_many([c for c, _ in queue])}
        left = 0
        done: list[str] = []
        for conversation_id, since in await self.cases.away_since(
            now - self.config.abandon_after_seconds
        ):
            row = rows.get(conversation_id)
            done.append(conversation_id)  # not waiting any more, or taken out now
            if row is not None and row.get("channel", "widget") in LIVE_STATUS_CHANNELS:
                left += await self._leave(row, now, away=now - since)
        await self.cases.forget_away(done)
        platform_limit = self.config.platform_abandon_after_hours * 3600
        for row in rows.values():
            if row.get("channel", "widget") in LIVE_STATUS_CHANNELS or platform_limit <= 0:
                continue
            if now - float(row.get("requested_at") or now) >= platform_limit:
                left += await self._leave(row, now, away=0.0)
        return left

    async def _leave(self, row: dict[str, str], now: float, away: float) -> int:
        conversation = await self.conversations.get(row["conversation_id"])
        if not conversation.waiting or conversation.case_id != row["id"]:
            return 0
        if not await self.cases.dequeue(row["id"]):
            return 0  # an agent took the case a moment ago
        waited = max(0.0, now - float(row.get("requested_at") or now))
        closed = {
            "state": CaseState.ABANDONED.value,
            "closed_at": f"{now:.3f}",
            "abandoned_after": f"{waited:.0f}",
            "away_seconds": f"{away:.0f}",
        }
        await self.cases.update(row["id"], closed)
        email = conversation.captured.get("email") or conversation.details.get("customer_email")
        has_page = conversation.channel in LIVE_STATUS_CHANNELS
        try:
            if email and has_page:
                await self._to_message(conversation, Case.from_fields(row), email, waited)
            else:
                await self.conversations.abandon(conversation, waited)
                text = self.handoff.templates.render(conversation.language, "abandoned_closed")
                await self.handoff.outbox.send(
                    conversation.id, conversation.channel, Outbound(text=text)
                )
        except TransitionRefused as exc:  # the conversation moved on meanwhile
            log.info("abandonment of %s: %s", row["id"], exc)
        return 1

    async def _to_message(
        self, conversation: Conversation, live: Case, email: str, waited: float
    ) -> None:
        """The request becomes a message left for an answer by e-mail, with the usual promise."""
        language = conversation.language
        promise = self.handoff.leave.promise(conversation)
        words = conversation.understood.get("last_question") or live.fields.get("summary", "")
        extra = {"email": email, "message": words, "left_while_waiting": live.id, **promise}
        summary = live.fields.get("summary", "")
        case = await self.handoff.create_case(
            conversation, live.reason, live.reason_detail, summary, CaseKind.MESSAGE, extra
        )
        await self.conversations.abandon(conversation, waited, case)
        text = self.handoff.templates.render(
            language, "abandoned_to_message", email=email, reply_by=promise["promised_reply_by"]
        )
        await self.handoff.outbox.send(conversation.id, conversation.channel, Outbound(text=text))

    def every(self) -> float:
        return max(1.0, min(MAX_SWEEP_EVERY, self.config.abandon_after_seconds / 6))

    async def run(self) -> None:
        """The sweep, forever (a task of the gateway)."""
        with contextlib.suppress(StoreUnavailable):
            await self.everyone_away()
        await repeat("abandonment sweep", self._sweep_once, self.every())

    async def _sweep_once(self) -> None:
        await self.still_here()
        left = await self.sweep()
        if left:
            log.info("%d waiting customer(s) left the line (page gone)", left)
