"""The customer's side of a handoff: request a person, wait in line, cancel, leave a message,
talk to the agent.

A case is one handoff. It carries what the bot understood so the agent never asks twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from frontdesk.core.conversation import (
    CANCEL_REQUEST,
    KEEP_TRYING,
    NO_PERSON,
    REQUEST_PERSON,
    TOPIC_PERSON,
    Case,
    CaseKind,
    CaseState,
    Conversation,
    Conversations,
    State,
)
from frontdesk.core.events import (
    CaseUpdated,
    CustomerPresence,
    CustomerSaid,
    CustomerTyping,
    EventBus,
)
from frontdesk.core.flows import Flows
from frontdesk.core.kept_files import of_topic
from frontdesk.core.leave_message import LeaveMessage
from frontdesk.core.messages import Outbound, QuickReply
from frontdesk.core.outbox import Outbox
from frontdesk.core.sla import Sla
from frontdesk.core.templates import Templates
from frontdesk.core.waits import Waits
from frontdesk.store.base import CaseStore, Store

CASE_FIELDS = ("area", "intent", "confidence", "captured")
MAX_TOPICS = 5  # topics raised while waiting, kept on the case card


class Handoff:
    def __init__(
        self,
        conversations: Conversations,
        store: Store,
        cases: CaseStore,
        outbox: Outbox,
        templates: Templates,
        flows: Flows,
        waits: Waits,
        leave: LeaveMessage,
        bus: EventBus,
        sla: Sla | None = None,
    ) -> None:
        self.sla = sla  # the service-level deadlines stamped on each new case (flows/sla.yml)
        self.conversations = conversations
        self.store = store
        self.cases = cases
        self.outbox = outbox
        self.templates = templates
        self.flows = flows
        self.waits = waits
        self.leave = leave
        self.bus = bus

    async def _send(self, conversation: Conversation, message: Outbound) -> dict[str, Any]:
        return await self.outbox.send(conversation.id, conversation.channel, message)

    def _say(self, conversation: Conversation, key: str, **context: Any) -> str:
        return self.templates.render(conversation.language, key, **context)

    def summary(self, conversation: Conversation, detail: str = "") -> str:
        """ "return for order 1042, item arrived damaged" — what the agent is told, in brief
        (empty when the bot knows nothing specific)."""
        captured = conversation.captured
        parts = []
        area_label = self.flows.area_labels.get(conversation.area, "")
        order = captured.get("order_number")
        if area_label:
            parts.append(f"{area_label} for order {order}" if order else area_label)
        elif order:
            parts.append(f"order {order}")
        topic = detail or self.flows.topics.get(conversation.intent, "")
        if topic:
            parts.append(topic)
        question = conversation.understood.get("last_question", "")
        if not parts and question:
            parts.append(f"“{question[:120]}”")
        if captured.get("email"):
            parts.append(f"e-mail {captured['email']}")
        return ", ".join(parts)

    def _cancel(self, conversation: Conversation) -> QuickReply:
        return QuickReply(self._say(conversation, "button_cancel_request"), CANCEL_REQUEST)

    async def _status_reply(self, conversation: Conversation) -> bool:
        """Tell a waiting customer where they are in line; False if they are not in it."""
        if not conversation.waiting:
            return False
        status = await self.waits.status_of(conversation.case_id)
        if status is None:
            return False
        await self._send(
            conversation, self.waits.status_message(status, self._cancel(conversation))
        )
        return True

    async def request(self, conversation: Conversation, reason: str, detail: str = "") -> None:
        """Queue the conversation for a person (once), telling the customer what was passed on,
        where they are in line, how long it should take and why. Closed: leave a message."""
        if conversation.state in (State.AGENT, State.LEAVING_MESSAGE):
            return
        if conversation.state is State.QUEUED:
            if not await self._status_reply(conversation):
                await self._send(conversation, Outbound(self._say(conversation, "handoff_queued")))
            return
        if conversation.state is State.LEFT_MESSAGE:
            await self.leave.already_left(conversation, await self.cases.get(conversation.case_id))
            return
        if not self.waits.is_open():
            await self.leave.start(conversation, reason, detail)
            return
        summary = self.summary(conversation, detail)
        case = await self.create_case(conversation, reason, detail, summary, CaseKind.LIVE, {})
        confirm = (
            self._say(conversation, "handoff_confirm", summary=summary)
            if summary
            else self._say(conversation, "handoff_confirm_plain")
        )
        await self._send(conversation, Outbound(text=confirm))
        status = await self.waits.status_of(case.id)
        if status is not None:
            message = self.waits.status_message(status, self._cancel(conversation))
            hint = self._say(conversation, "handoff_queued")
            await self._send(
                conversation, Outbound(f"{message.text} {hint}", message.quick_replies)
            )
            await self.waits.record_quote(status)
            await self.waits.push(status, text_too=False)
        # Queued once the customer has their quote, so listeners (the console, auto-assignment,
        # other customers' waits) see a case whose customer knows where they stand.
        await self.conversations.queue(conversation, case)

    async def create_case(
        self,
        conversation: Conversation,
        reason: str,
        detail: str,
        summary: str,
        kind: CaseKind,
        extra: Mapping[str, str],
    ) -> Case:
        fields = {
            "id": uuid.uuid4().hex,
            "conversation_id": conversation.id,
            "state": CaseState.QUEUED.value,
            "reason": reason,
            "reason_detail": detail or self.flows.reasons.get(reason, reason),
            "summary": summary or self.flows.reasons.get(reason, reason),
            "requested_at": f"{self.waits.clock():.3f}",
            "start_seq": str(conversation.segment_start),
            "handoff_seq": str(await self.store.last_seq(conversation.id)),
            "channel": conversation.channel,
            "language": conversation.language,
            **{k: v for k, v in conversation.understood.items() if k in CASE_FIELDS},
            **conversation.details,
            **extra,
        }
        # The photos and files sent on this topic go with it (the card's "Photos and files").
        raw = await self.store.get_conversation(conversation.id)
        files = of_topic(raw, conversation.segment_start)
        if files:
            fields["attachments"] = files
        if self.sla is not None:  # deadlines fixed now, so every process agrees on them
            fields.update(self.sla.stamp({**fields, "kind": kind.value}))
        await self.cases.create(fields["id"], fields, customer_key=conversation.id, kind=kind)
        return Case.from_fields(fields)

    async def _withdraw(self, conversation: Conversation) -> Conversation | None:
        """Take a waiting customer out of the queue; None if they were not in it (an agent
        took the case a moment ago, or there was nothing to cancel)."""
        if not conversation.waiting or not await self.cases.dequeue(conversation.case_id):
            return None
        closed = {"state": CaseState.CANCELLED.value, "closed_at": f"{self.waits.clock():.3f}"}
        await self.cases.update(conversation.case_id, closed)
        return await self.conversations.cancel_request(conversation)

    async def cancel(self, conversation: Conversation) -> None:
        if conversation.state is State.AGENT:
            return  # a person has just taken it: nothing to cancel
        await self._withdraw(conversation)
        await self._send(conversation, Outbound(text=self._say(conversation, "handoff_cancelled")))

    async def leave_message(self, conversation: Conversation) -> None:
        """The customer would rather leave a message than wait (nobody online)."""
        if conversation.state is State.LEAVING_MESSAGE:
            return
        reason, detail = "customer_asked", ""
        if conversation.waiting:
            case = Case.from_fields(await self.cases.get(conversation.case_id))
            withdrawn = await self._withdraw(conversation)
            if withdrawn is None:
                return  # an agent took it meanwhile
            conversation = withdrawn
            reason, detail = case.reason, case.fields.get("reason_detail", "")
        if conversation.state is State.LEFT_MESSAGE:
            await self.leave.already_left(conversation, await self.cases.get(conversation.case_id))
            return
        await self.leave.start(conversation, reason, detail)

    async def left_message(self, conversation: Conversation, fields: Mapping[str, str]) -> None:
        """Store a complete left message as a case agents answer by e-mail."""
        captured = {**conversation.captured, "email": fields["email"]}
        conversation = conversation.with_understood(
            {"captured": json.dumps(captured, ensure_ascii=False)}
        )
        detail = fields.get("reason_detail", "")
        summary = self.summary(conversation, detail)
        extra = {k: v for k, v in fields.items() if k not in ("reason", "reason_detail")}
        case = await self.create_case(
            conversation, fields["reason"], detail, summary, CaseKind.MESSAGE, extra
        )
        conversation = await self.conversations.message_left(conversation, case)
        await self.leave.confirm(conversation, fields)

    async def tell_wait(self, conversation: Conversation) -> None:
        """Answer "how long will it take?" from the same data the widget header uses."""
        if await self._status_reply(conversation):
            return
        text = await self.waits.typical_reply(conversation.language)
        await self._send(
            conversation, Outbound(text=self._say(conversation, "wait_answer", typical=text))
        )

    async def offer_person(self, conversation: Conversation) -> None:
        buttons = (
            QuickReply(self._say(conversation, "button_talk_to_person"), REQUEST_PERSON),
            QuickReply(self._say(conversation, "button_keep_trying"), KEEP_TRYING),
        )
        text = self._say(conversation, "offer_person")
        await self._send(conversation, Outbound(text=text, quick_replies=buttons))

    async def offer_topic_person(self, conversation: Conversation) -> None:
        """A topic where a person helps (flows/handoff.yml topics): offered after the bot's
        answer, not imposed ("Would you like a person to look at this charge?")."""
        buttons = (
            QuickReply(self._say(conversation, "button_yes_person"), TOPIC_PERSON),
            QuickReply(self._say(conversation, "button_no_thanks"), NO_PERSON),
        )
        text = self._say(conversation, "topic_offer", area=conversation.area)
        await self._send(conversation, Outbound(text=text, quick_replies=buttons))

    async def accept_topic_offer(self, conversation: Conversation) -> None:
        reason = self.flows.topics.get(conversation.intent)
        if reason:
            await self.request(conversation, "topic", reason)
        else:
            await self.request(conversation, "customer_asked")

    async def decline_topic_offer(self, conversation: Conversation) -> None:
        text = self._say(conversation, "topic_offer_declined")
        await self._send(conversation, Outbound(text=text))

    async def new_topic(self, conversation: Conversation, question: str) -> None:
        """The customer raised something while waiting: it goes on the case card, so the
        agent who takes the case sees it without asking."""
        if not conversation.waiting or not question:
            return
        case = Case.from_fields(await self.cases.get(conversation.case_id))
        topics: list[str] = json.loads(case.fields.get("also_asked") or "[]")
        if question in topics:
            return
        topics = [*topics, question[:200]][-MAX_TOPICS:]
        fields = {"also_asked": json.dumps(topics, ensure_ascii=False)}
        base = case.fields.get("summary_first") or case.fields.get("summary", "")
        fields["summary_first"] = base
        fields["summary"] = "; ".join([base, *(f"“{t[:120]}”" for t in topics)])
        for name in CASE_FIELDS:  # the latest topic's understanding, if the case had none
            if conversation.understood.get(name) and not case.fields.get(name):
                fields[name] = conversation.understood[name]
        await self.cases.update(case.id, fields)
        await self.bus.publish(CaseUpdated(case.id, conversation.id))

    async def to_agent(self, conversation: Conversation, entry: Mapping[str, Any]) -> None:
        """A customer message while an agent has the conversation goes to that agent."""
        if conversation.agent and conversation.case_id:
            await self.bus.publish(
                CustomerSaid(conversation.id, conversation.case_id, conversation.agent, entry)
            )

    async def customer_typing(
        self, conversation_id: str, typing: bool, draft: str | None = None
    ) -> bool:
        """Relay "typing" to the agent who has the conversation, and — while
        flows/handoff.yml show_customer_draft is on — what the customer has typed so far
        (`draft`: never stored, never given to the bot; only the holder gets it). True when
        the holder would see a draft; False with nobody to tell, or with drafts off."""
        conversation = await self.conversations.get(conversation_id)
        if conversation.state is not State.AGENT or not conversation.agent:
            return False
        if not conversation.case_id:
            return False
        shown = self.flows.show_customer_draft
        await self.bus.publish(
            CustomerTyping(
                conversation_id,
                conversation.case_id,
                conversation.agent,
                typing,
                (draft if typing else "") if shown and draft is not None else None,
            )
        )
        return shown

    async def customer_presence(self, conversation_id: str, online: bool) -> None:
        """The customer opened (or closed the last) page with the chat: agents see whether
        the customer is still there. Called by the widget channel."""
        await self.bus.publish(CustomerPresence(conversation_id, online))
