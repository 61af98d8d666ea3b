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
from frontdesk.core.messages import Outbound, QuickReply
from frontdesk.core.notify import ConsoleNotifier, NoConsole
from frontdesk.core.outbox import Outbox
from frontdesk.core.templates import Templates
from frontdesk.store.base import Store
from frontdesk.store.cases import CaseStore

CANCEL = "/fd_cancel_handoff"
REQUEST = "/human_handoff"


class Handoff:
    def __init__(
        self,
        store: Store,
        cases: CaseStore,
        outbox: Outbox,
        templates: Templates,
        flows: Flows,
    ) -> None:
        self.store = store
        self.cases = cases
        self.outbox = outbox
        self.templates = templates
        self.flows = flows
        self.console: ConsoleNotifier = NoConsole()
        self.after_queue: Callable[[], Awaitable[None]] | None = None

    def say(self, meta: Mapping[str, str], key: str, **context: Any) -> str:
        language = meta.get("language", self.templates.default_language)
        return self.templates.render(language, key, **context)

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
        """Queue the conversation for a person (once), telling the customer what was passed on."""
        state = meta.get("state", "bot")
        if state == "agent":
            return
        if state == "queued" and meta.get("case_id"):
            position = await self.cases.position(meta["case_id"])
            if position is not None:
                await self._send(meta, self._waiting(meta, "handoff_already", position))
                return
        conversation_id = meta["id"]
        case_id = uuid.uuid4().hex
        now = time.time()
        summary = self.summary(meta, reason, detail)
        handoff_seq = await self.store.last_seq(conversation_id)
        fields = {
            "id": case_id,
            "conversation_id": conversation_id,
            "state": "queued",
            "reason": reason,
            "reason_detail": detail or self.flows.reasons.get(reason, reason),
            "summary": summary,
            "requested_at": f"{now:.3f}",
            "start_seq": meta.get("segment_start", "1"),
            "handoff_seq": str(handoff_seq),
        }
        for name in (
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
        ):
            if meta.get(name):
                fields[name] = meta[name]
        await self.cases.create(case_id, fields, customer_key=conversation_id)
        await self.store.update_conversation(
            conversation_id, {"state": "queued", "case_id": case_id, "fallbacks_in_a_row": "0"}
        )
        await self._send(meta, Outbound(text=self.say(meta, "handoff_confirm", summary=summary)))
        position = await self.cases.position(case_id) or 1
        await self._send(meta, self._waiting(meta, "handoff_queued", position))
        await self.console.queue_changed()
        if self.after_queue is not None:
            await self.after_queue()

    def _waiting(self, meta: Mapping[str, str], key: str, position: int) -> Outbound:
        cancel = QuickReply(self.say(meta, "button_cancel_request"), CANCEL)
        return Outbound(text=self.say(meta, key, position=position), quick_replies=(cancel,))

    async def offer_person(self, meta: Mapping[str, str]) -> None:
        buttons = (
            QuickReply(self.say(meta, "button_talk_to_person"), REQUEST),
            QuickReply(self.say(meta, "button_keep_trying"), "/greet"),
        )
        await self._send(meta, Outbound(text=self.say(meta, "offer_person"), quick_replies=buttons))

    async def cancel(self, meta: Mapping[str, str]) -> None:
        case_id = meta.get("case_id", "")
        if meta.get("state") == "queued" and case_id and await self.cases.dequeue(case_id):
            await self.cases.update(
                case_id, {"state": "cancelled", "closed_at": f"{time.time():.3f}"}
            )
            await self.store.update_conversation(meta["id"], {"state": "bot"})
            await self.console.queue_changed()
        await self._send(meta, Outbound(text=self.say(meta, "handoff_cancelled")))

    async def to_agent(self, meta: Mapping[str, str], entry: Mapping[str, Any]) -> None:
        """A customer message while an agent has the conversation goes to that agent."""
        case = await self.cases.get(meta.get("case_id", ""))
        if case.get("agent"):
            await self.console.case_message(case["agent"], case["id"], entry)

    async def customer_typing(self, conversation_id: str, typing: bool) -> None:
        meta = await self.store.get_conversation(conversation_id)
        if meta.get("state") != "agent":
            return
        case = await self.cases.get(meta.get("case_id", ""))
        if case.get("agent"):
            await self.console.customer_typing(case["agent"], case["id"], typing)
