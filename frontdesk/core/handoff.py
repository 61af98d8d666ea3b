"""The customer's side of a handoff: request a person, wait in line, cancel, talk to the agent.

A case is one handoff. It carries what the bot understood so the agent never asks twice.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from frontdesk.core.flows import Flows
from frontdesk.core.leave_message import LeaveMessage
from frontdesk.core.messages import Outbound, QuickReply
from frontdesk.core.notify import ConsoleNotifier, NoConsole
from frontdesk.core.outbox import Outbox
from frontdesk.core.templates import Templates
from frontdesk.core.waits import Waits
from frontdesk.store.base import Store
from frontdesk.store.cases import CaseStore

CANCEL = "/fd_cancel_handoff"
REQUEST = "/human_handoff"
CASE_FIELDS = (
    "channel",
    "language",
    "area",
    "intent",
    "confidence",
    "captured",
    "page_url",
    "customer_name",
    "customer_email",
    "customer_id",
    "channel_user",
)


class Handoff:
    def __init__(
        self,
        store: Store,
        cases: CaseStore,
        outbox: Outbox,
        templates: Templates,
        flows: Flows,
        waits: Waits,
        leave: LeaveMessage,
    ) -> None:
        self.waits = waits
        self.leave = leave
        self.store = store
        self.cases = cases
        self.outbox = outbox
        self.templates = templates
        self.flows = flows
        self.console: ConsoleNotifier = NoConsole()
        self.after_queue: Callable[[], Awaitable[None]] | None = None

    async def _send(self, meta: Mapping[str, str], message: Outbound) -> dict[str, Any]:
        return await self.outbox.send(meta["id"], meta.get("channel", "widget"), message)

    def summary(self, meta: Mapping[str, str], reason: str, detail: str) -> str:
        """ "return for order 1042, item arrived damaged" — what the agent is told, in brief."""
        captured = json.loads(meta.get("captured") or "{}")
        parts = []
        area_label = self.flows.area_labels.get(meta.get("area", ""), "")
        order = captured.get("order_number")
        if area_label:
            parts.append(f"{area_label} for order {order}" if order else area_label)
        elif order:
            parts.append(f"order {order}")
        topic = detail or self.flows.topics.get(meta.get("intent", ""), "")
        if topic:
            parts.append(topic)
        if not parts and meta.get("last_question"):
            parts.append(f"“{meta['last_question'][:120]}”")
        if captured.get("email"):
            parts.append(f"e-mail {captured['email']}")
        return ", ".join(parts) or self.flows.reasons.get(reason, reason)

    async def request(self, meta: Mapping[str, str], reason: str, detail: str = "") -> None:
        """Queue the conversation for a person (once), telling the customer what was passed on,
        where they are in line, how long it should take and why. Closed: leave a message."""
        state = meta.get("state", "bot")
        if state in ("agent", "leave_message"):
            return
        if state == "queued" and meta.get("case_id"):
            status = await self.waits.status_of(meta["case_id"])
            if status is not None:
                await self._send(meta, self.waits.status_message(status, self._cancel(meta)))
                return
        if not self.waits.is_open():
            await self.leave.start(meta, reason, detail)
            return
        summary = self.summary(meta, reason, detail)
        case_id = await self._create_case(meta, reason, detail, summary, {})
        self.outbox.metrics.handoffs.labels(reason).inc()
        await self._send(
            meta, Outbound(text=self.templates.say(meta, "handoff_confirm", summary=summary))
        )
        status = await self.waits.status_of(case_id)
        if status is not None:
            message = self.waits.status_message(status, self._cancel(meta))
            hint = self.templates.say(meta, "handoff_queued")
            await self._send(meta, Outbound(f"{message.text} {hint}", message.quick_replies))
            await self.waits.record_quote(status)
            await self.waits.push(status, meta, text_too=False)
        await self.console.queue_changed()
        if self.after_queue is not None:
            await self.after_queue()

    async def _create_case(
        self,
        meta: Mapping[str, str],
        reason: str,
        detail: str,
        summary: str,
        extra: Mapping[str, str],
        first: bool = False,
    ) -> str:
        conversation_id = meta["id"]
        case_id = uuid.uuid4().hex
        fields = {
            "id": case_id,
            "conversation_id": conversation_id,
            "state": "queued",
            "reason": reason,
            "reason_detail": detail or self.flows.reasons.get(reason, reason),
            "summary": summary,
            "requested_at": f"{time.time():.3f}",
            "start_seq": meta.get("segment_start", "1"),
            "handoff_seq": str(await self.store.last_seq(conversation_id)),
            **extra,
        }
        for name in CASE_FIELDS:
            if meta.get(name):
                fields[name] = meta[name]
        await self.cases.create(case_id, fields, customer_key=conversation_id, first=first)
        await self.store.update_conversation(
            conversation_id, {"state": "queued", "case_id": case_id, "fallbacks_in_a_row": "0"}
        )
        return case_id

    def _cancel(self, meta: Mapping[str, str]) -> QuickReply:
        return QuickReply(self.templates.say(meta, "button_cancel_request"), CANCEL)

    async def leave_message(self, meta: Mapping[str, str]) -> None:
        """The customer would rather leave a message than wait (nobody online)."""
        case_id = meta.get("case_id", "")
        if meta.get("state") == "queued" and case_id and await self.cases.dequeue(case_id):
            await self.cases.update(
                case_id, {"state": "cancelled", "closed_at": f"{time.time():.3f}"}
            )
            await self.console.queue_changed()
            case = await self.cases.get(case_id)
            await self.leave.start(
                meta, case.get("reason", "customer_asked"), case.get("reason_detail", "")
            )
            return
        await self.leave.start(meta, "customer_asked", "")

    async def left_message(self, meta: Mapping[str, str], fields: Mapping[str, str]) -> None:
        """Store a complete left message as a case agents see first."""
        captured = {**json.loads(meta.get("captured") or "{}"), "email": fields["email"]}
        meta = {**meta, "captured": json.dumps(captured, ensure_ascii=False)}
        summary = self.summary(meta, fields["reason"], fields.get("reason_detail", ""))
        extra = {k: v for k, v in fields.items() if k not in ("reason", "reason_detail")}
        await self._create_case(
            meta, fields["reason"], fields.get("reason_detail", ""), summary, extra, first=True
        )
        self.outbox.metrics.messages_left.inc()
        await self.leave.confirm(meta, fields)
        await self.console.queue_changed()

    async def tell_wait(self, meta: Mapping[str, str]) -> None:
        """Answer "how long will it take?" from the same data the widget header uses."""
        if meta.get("state") == "queued" and meta.get("case_id"):
            status = await self.waits.status_of(meta["case_id"])
            if status is not None:
                await self._send(meta, self.waits.status_message(status, self._cancel(meta)))
                return
        language = meta.get("language", self.templates.default_language)
        text = await self.waits.typical_reply(language)
        await self._send(meta, Outbound(text=self.templates.say(meta, "wait_answer", typical=text)))

    async def offer_person(self, meta: Mapping[str, str]) -> None:
        buttons = (
            QuickReply(self.templates.say(meta, "button_talk_to_person"), REQUEST),
            QuickReply(self.templates.say(meta, "button_keep_trying"), "/greet"),
        )
        await self._send(
            meta, Outbound(text=self.templates.say(meta, "offer_person"), quick_replies=buttons)
        )

    async def cancel(self, meta: Mapping[str, str]) -> None:
        case_id = meta.get("case_id", "")
        if meta.get("state") == "queued" and case_id and await self.cases.dequeue(case_id):
            await self.cases.update(
                case_id, {"state": "cancelled", "closed_at": f"{time.time():.3f}"}
            )
            await self.store.update_conversation(meta["id"], {"state": "bot"})
            await self.console.queue_changed()
        await self._send(meta, Outbound(text=self.templates.say(meta, "handoff_cancelled")))

    async def to_agent(self, meta: Mapping[str, str], entry: Mapping[str, Any]) -> None:
        """A customer message while an agent has the conversation goes to that agent
        (the conversation remembers which agent and case since the claim)."""
        if meta.get("agent") and meta.get("case_id"):
            await self.console.case_message(meta["agent"], meta["case_id"], entry)

    async def customer_typing(self, conversation_id: str, typing: bool) -> None:
        meta = await self.store.get_conversation(conversation_id)
        if meta.get("state") == "agent" and meta.get("agent") and meta.get("case_id"):
            await self.console.customer_typing(meta["agent"], meta["case_id"], typing)
