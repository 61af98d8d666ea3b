"""The offline inbox: messages left outside hours (or with nobody online), answered by e-mail.

Agents see the left messages as their own list, by promised reply time, apart from the live
queue. An agent takes one (no "joined" notice: the customer is not in a chat; it holds none of
her chat slots, see store/cases.py), writes the answer, and the answer is queued in the mail
outbox, stored in the conversation's transcript (so the widget shows it if the customer comes
back) and the case is closed with it — with no in-chat survey: the e-mail carries a one-click
satisfaction link instead. The mail sender (frontdesk.mail.sender) reports each try back here; a
failed send stays visible, is retried with back-off, and is never dropped silently.

A message left on WhatsApp is answered on WhatsApp (core.leave_message.IN_CHAT): the answer goes
through the outbox to the chat, where the channel sends it as the approved template when the
customer's 24 hours are over, and no e-mail is needed or written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from frontdesk.core.agentdesk import AgentDesk
from frontdesk.core.answer_mail import compose
from frontdesk.core.casecard import mail_status, message_item
from frontdesk.core.conversation import CaseKind, Conversations
from frontdesk.core.events import EventBus, MailStatusChanged, SurveyAnswered
from frontdesk.core.feedback import SCORES, FeedbackLinks, Ticket
from frontdesk.core.leave_message import answered_in_chat
from frontdesk.core.messages import Outbound
from frontdesk.core.outbox import Outbox
from frontdesk.core.templates import Templates
from frontdesk.errors import DeskError
from frontdesk.store.base import CaseStore, MailOutbox

MAX_ANSWER = 20_000

# Where an answer's e-mail stands (the case's mail_state).
QUEUED, SENT, RETRYING, FAILED = "queued", "sent", "retrying", "failed"


@dataclass(frozen=True)
class FeedbackPage:
    """What the satisfaction page says: thanks | used | invalid | ask (no score chosen yet)."""

    status: str
    language: str = ""
    score: int = 0
    links: tuple[tuple[int, str], ...] = ()


class OfflineInbox:
    def __init__(
        self,
        desk: AgentDesk,
        conversations: Conversations,
        cases: CaseStore,
        outbox: Outbox,
        templates: Templates,
        bus: EventBus,
        zone: ZoneInfo,
        mail: MailOutbox | None = None,
        links: FeedbackLinks | None = None,
        sending: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.desk = desk
        self.conversations = conversations
        self.cases = cases
        self.outbox = outbox
        self.templates = templates
        self.bus = bus
        self.zone = zone
        self.mail = mail
        self.links = links
        self.sending = sending
        self.clock = clock

    @property
    def enabled(self) -> bool:
        """Whether answers can go out by e-mail (SMTP_URL and MAIL_FROM are set)."""
        return self.sending and self.mail is not None and self.links is not None

    # -- the list ---------------------------------------------------------------------------------

    async def items(self) -> list[dict[str, Any]]:
        """Answers whose e-mail is not delivered yet (they need an eye on them), then the left
        messages waiting for an answer, the earliest promised reply first."""
        waiting = [case_id for case_id, _ in await self.cases.messages()]
        undelivered = await self.mail.undelivered() if self.mail is not None else []
        ids = undelivered + [c for c in waiting if c not in set(undelivered)]
        now = self.clock()
        items = [message_item(row, now) for row in await self.cases.get_many(ids)]
        items.sort(
            key=lambda i: (
                0 if i["mail"] else 1,
                i["promised_reply_at"] or i["requested_at"],
            )
        )
        return items

    # -- answering --------------------------------------------------------------------------------

    async def answer(self, agent: str, case_id: str, text: str) -> dict[str, Any]:
        """Send the agent's answer to a left message they hold by e-mail, and close it."""
        text = text.strip()
        if not text:
            raise DeskError("empty_message", "the answer is empty")
        if len(text) > MAX_ANSWER:
            raise DeskError("message_too_long", f"the answer is longer than {MAX_ANSWER}")
        case = await self.desk.held(agent, case_id)
        if case.get("kind") == CaseKind.MESSAGE and answered_in_chat(case.get("channel", "")):
            return await self._answer_in_chat(agent, case, text)
        if not self.enabled or self.mail is None or self.links is None:
            raise DeskError(
                "mail_not_configured",
                "e-mail is not set up on this gateway (SMTP_URL and MAIL_FROM): answer from "
                "your own mailbox, then close the message",
            )
        if case.get("kind") != CaseKind.MESSAGE:
            raise DeskError("not_a_message", "this is a live chat: reply in the chat")
        if not case.get("email"):
            raise DeskError("no_email", "this message has no e-mail address to answer")
        info = await self.desk.agent(agent)
        conversation = await self.conversations.get(case["conversation_id"])
        language = case.get("language") or conversation.language
        token = await self.links.issue(case_id, language)
        links = self.links
        mail = compose(
            self.templates,
            language,
            self.zone,
            text,
            info["display_name"],
            case.get("message", ""),
            float(case.get("left_at") or case.get("requested_at") or self.clock()),
            lambda score: links.url(token, score),
        )
        now = self.clock()
        content = {
            "case_id": case_id,
            "to": case["email"],
            "subject": mail.subject,
            "text": mail.text,
            "html": mail.html,
            "language": language,
            "agent": agent,
            "attempts": "0",
            "created_at": f"{now:.3f}",
        }
        await self.mail.enqueue(case_id, content, now)
        # The transcript keeps the answer: the widget shows it if the customer comes back.
        answer = Outbound(text=text, role="agent", sender_name=info["display_name"])
        entry = await self.outbox.send(conversation.id, conversation.channel, answer)
        fields = {
            "mail_state": QUEUED,
            "mail_attempts": "0",
            "mail_error": "",
            "mail_next_at": "",
            "answered_at": f"{now:.3f}",
            "answered_by": agent,
            "answer_seq": str(entry.get("seq") or ""),
        }
        await self.desk.close_message(agent, case, fields)
        await self.bus.publish(MailStatusChanged(case_id, agent, QUEUED))
        return {"mail": mail_status({**case, **fields}), "seq": entry.get("seq")}

    async def _answer_in_chat(self, agent: str, case: dict[str, str], text: str) -> dict[str, Any]:
        """The answer to a message left where the customer can always be written to (WhatsApp):
        sent to the chat as the agent's message, and the case closed with it."""
        info = await self.desk.agent(agent)
        conversation = await self.conversations.get(case["conversation_id"])
        answer = Outbound(text=text, role="agent", sender_name=info["display_name"])
        entry = await self.outbox.send(conversation.id, conversation.channel, answer)
        fields = {
            "answered_at": f"{self.clock():.3f}",
            "answered_by": agent,
            "answered_via": conversation.channel,
            "answer_seq": str(entry.get("seq") or ""),
        }
        await self.desk.close_message(agent, case, fields)
        return {"mail": None, "seq": entry.get("seq"), "via": conversation.channel}

    async def retry(self, agent: str, case_id: str) -> dict[str, Any]:
        """Try an undelivered answer again now (after a failure for good, or to not wait)."""
        if self.mail is None or not await self.mail.retry_now(case_id, self.clock()):
            raise DeskError("nothing_to_retry", "this answer is not waiting to be sent")
        fields = {"mail_state": QUEUED, "mail_next_at": ""}
        await self.cases.update(case_id, fields)
        case = await self.cases.get(case_id)
        await self.bus.publish(MailStatusChanged(case_id, case.get("answered_by", agent), QUEUED))
        return {"mail": mail_status(case)}

    # -- what the mail sender reports -------------------------------------------------------------

    async def mail_sent(self, case_id: str, attempts: int) -> None:
        fields = {
            "mail_state": SENT,
            "mail_sent_at": f"{self.clock():.3f}",
            "mail_attempts": str(attempts),
            "mail_error": "",
            "mail_next_at": "",
        }
        await self._report(case_id, fields, SENT, "", attempts, None)

    async def mail_failed(
        self, case_id: str, error: str, attempts: int, next_attempt_at: float | None
    ) -> None:
        """A try failed: it is retried at next_attempt_at, or (None) only when an agent asks."""
        state = RETRYING if next_attempt_at is not None else FAILED
        fields = {
            "mail_state": state,
            "mail_error": error[:500],
            "mail_attempts": str(attempts),
            "mail_next_at": f"{next_attempt_at:.3f}" if next_attempt_at is not None else "",
        }
        await self._report(case_id, fields, state, error[:500], attempts, next_attempt_at)

    async def _report(
        self,
        case_id: str,
        fields: dict[str, str],
        state: str,
        error: str,
        attempts: int,
        next_at: float | None,
    ) -> None:
        await self.cases.update(case_id, fields)
        agent = (await self.cases.get(case_id)).get("answered_by", "")
        await self.bus.publish(MailStatusChanged(case_id, agent, state, error, attempts, next_at))

    # -- the one-click satisfaction link ----------------------------------------------------------

    async def feedback(self, token: str, score: int | None) -> FeedbackPage:
        """Record the score of a link's first click; later clicks only thank."""
        if self.links is None:
            return FeedbackPage("invalid")
        links = self.links
        if score not in SCORES:
            status, ticket = await links.peek(token)
            if status == "open" and ticket is not None:
                choices = tuple((n, links.url(token, n)) for n in SCORES)
                return FeedbackPage("ask", ticket.language, links=choices)
            return FeedbackPage("used" if status == "used" else "invalid", _language(ticket))
        assert score is not None
        status, ticket = await links.redeem(token)
        if status != "ok" or ticket is None:
            return FeedbackPage("used" if status == "used" else "invalid", _language(ticket))
        await self.cases.update(ticket.case_id, {"csat": str(score), "csat_via": "email"})
        await self.bus.publish(SurveyAnswered(ticket.case_id, "csat", str(score)))
        return FeedbackPage("thanks", ticket.language, score)


def _language(ticket: Ticket | None) -> str:
    return ticket.language if ticket is not None else ""
