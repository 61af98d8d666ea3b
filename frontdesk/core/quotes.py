"""What a waiting customer reads: the queue status line and its buttons, whether leaving a
message is offered beside the place in line, and the promises ("we'll reply by 11:00, Berlin
time"), in the conversation's language. A mixin of `Waits` (core/waits.py), which supplies the
live figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from frontdesk.core.conversation import CANCEL_REQUEST, LEAVE_MESSAGE
from frontdesk.core.estimate import Estimate
from frontdesk.core.hours import Hours
from frontdesk.core.messages import Outbound, QuickReply
from frontdesk.core.templates import Templates
from frontdesk.core.wait_config import WaitConfig


@dataclass(frozen=True)
class QueueStatus:
    case_id: str
    conversation_id: str
    channel: str
    language: str
    position: int
    estimate: Estimate | None  # None: nobody online to take the conversation
    agents_online: int
    customers_served: int
    waiting: int
    pushed: Mapping[str, str] = field(default_factory=dict)  # what the customer was last shown

    @property
    def reason(self) -> str:
        if self.estimate is None:
            return "none_online"
        return "free" if self.estimate.high <= 120 and self.position <= 1 else "busy"


class Quotes:
    templates: Templates
    hours: Hours
    config: WaitConfig
    clock: Callable[[], float]

    def text(self, status: QueueStatus) -> str:
        estimate = status.estimate
        return self.templates.render(
            status.language,
            "queue_status",
            position=status.position,
            reason=status.reason,
            agents=status.agents_online,
            customers=status.customers_served,
            low=estimate.low_minutes if estimate else None,
            high=estimate.high_minutes if estimate else None,
            high_seconds=estimate.shown_high if estimate else None,
            long_wait=self.long_wait(status),
            **(self.reopening(status.language) if self.long_wait(status) else {}),
        )

    def payload(self, status: QueueStatus) -> dict[str, Any]:
        estimate = status.estimate
        return {
            "text": self.text(status),
            "position": status.position,
            "reason": status.reason,
            "estimate": (
                {
                    "low_minutes": estimate.low_minutes,
                    "high_minutes": estimate.high_minutes,
                    "high_seconds": estimate.shown_high,
                }
                if estimate
                else None
            ),
            "leave_message": self.offers_message(status),
            "actions": [
                {"title": q.title, "payload": q.payload}
                for q in self.status_message(status, self._cancel_button(status)).quick_replies
            ],
        }

    def _cancel_button(self, status: QueueStatus) -> QuickReply:
        title = self.templates.render(status.language, "button_cancel_request")
        return QuickReply(title, CANCEL_REQUEST)

    def status_message(self, status: QueueStatus, cancel: QuickReply) -> Outbound:
        buttons = [cancel]
        if self.offers_message(status):
            leave = self.templates.render(status.language, "button_leave_message")
            buttons.insert(0, QuickReply(leave, LEAVE_MESSAGE))
        return Outbound(text=self.text(status), quick_replies=tuple(buttons))

    def offers_message(self, status: QueueStatus) -> bool:
        """Leaving a message is offered beside the place in line when nobody can take the
        conversation, the wait is long, or it runs past closing time."""
        return status.estimate is None or self.long_wait(status) != ""

    def long_wait(self, status: QueueStatus) -> str:
        """ "closing": the upper end runs past closing time; "long": past the threshold."""
        if status.estimate is None:
            return ""
        now = self.clock()
        closes = self.hours.closes_at(dt.datetime.fromtimestamp(now, dt.UTC))
        if closes is not None and now + status.estimate.high > closes.timestamp():
            return "closing"
        if status.estimate.high > self.config.offer_message_above_minutes * 60:
            return "long"
        return ""

    def when(self, moment: dt.datetime, language: str) -> str:
        """ "today at 9:00", "tomorrow at 9:00", "Monday at 9:00", "Monday 4 January at 9:00"."""
        now = dt.datetime.fromtimestamp(self.clock(), self.hours.zone)
        local = moment.astimezone(self.hours.zone)
        days = (local.date() - now.date()).days
        names = self.templates.render(language, "weekdays").split(",")
        months = self.templates.render(language, "months").split(",")
        kind = (
            "today" if days == 0 else "tomorrow" if days == 1 else "weekday" if days < 7 else "date"
        )
        return self.templates.render(
            language,
            f"when_{kind}",
            time=f"{local.hour}:{local.minute:02d}",
            weekday=names[local.weekday()].strip(),
            day=local.day,
            month=months[local.month - 1].strip(),
        )

    def reopening(self, language: str) -> dict[str, str]:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        opening = self.hours.next_opening(now)
        reply_by = self.hours.reply_by(now)
        same_day = opening.astimezone(self.hours.zone).date() == reply_by.date()
        when = (
            f"{reply_by.hour}:{reply_by.minute:02d}" if same_day else self.when(reply_by, language)
        )
        zone = self.hours.zone_name(language)
        return {
            "reply_at": f"{reply_by.timestamp():.0f}",
            "reopen": self.when(opening, language),
            # Every promise names the shop's time zone: "11:00, Berlin time".
            "reply_by": self.templates.render(language, "zoned_time", when=when, zone=zone),
        }

    def is_open(self) -> bool:
        return self.hours.is_open(dt.datetime.fromtimestamp(self.clock(), dt.UTC))
