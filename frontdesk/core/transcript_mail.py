"""The transcript by e-mail: once a person has closed a widget conversation, the customer may
ask for a copy ("Send me the transcript" in the widget, `transcript_request`).

It goes to the e-mail address on file (the pre-chat form's, the page's, or the one the bot
picked up), or to one the customer types then, checked like the leave-a-message address
(core/leave_message.valid_email). It holds the part of the conversation the closed case covers
(from its topic's start to the agent's closing line), in the customer's language (the
`transcript_*` keys of flows/messages/), and waits in the same persistent mail outbox as the
answers to left messages (frontdesk.mail.sender sends it, retried with back-off), under the id
`transcript-<case id>`: one copy per case (a second request answers where it went).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from frontdesk.core.conversation import CaseKind, CaseState, Conversations
from frontdesk.core.leave_message import valid_email
from frontdesk.core.templates import Templates
from frontdesk.store.base import CaseStore, MailOutbox, Store

KIND = "transcript"  # the outbox entry's kind (frontdesk.mail.sender reports no case for it)
RECENT = 24 * 3600.0  # a case closed longer ago than this is not offered any more
SENT_FIELD = "transcript_mailed_to"  # on the case: where its one copy went
OFFER_KEYS = ("offer", "button", "ask_email", "email_label", "send")


def outbox_id(case_id: str) -> str:
    return f"transcript-{case_id}"


@dataclass(frozen=True)
class Answer:
    """What the widget shows: ok and a message, or an error code and its message."""

    ok: bool
    message: str
    code: str = ""

    def ack(self) -> dict[str, Any]:
        if self.ok:
            return {"ok": True, "message": self.message}
        return {"ok": False, "error": {"code": self.code, "message": self.message}}


class TranscriptMail:
    def __init__(
        self,
        conversations: Conversations,
        cases: CaseStore,
        store: Store,
        templates: Templates,
        mail: MailOutbox,
        zone: ZoneInfo,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conversations = conversations
        self.cases = cases
        self.store = store
        self.templates = templates
        self.mail = mail
        self.zone = zone
        self.clock = clock

    def offer(self, language: str) -> dict[str, str]:
        """The widget's words for the offer (agent_left.transcript), in `language`."""
        return {key: self.templates.render(language, f"transcript_{key}") for key in OFFER_KEYS}

    async def request(self, conversation_id: str, email: str = "") -> Answer:
        conversation = await self.conversations.get(conversation_id)
        language = conversation.language

        def say(key: str, **context: Any) -> str:
            return self.templates.render(language, key, **context)

        case = await self._closed_case(conversation_id)
        if case is None:
            return Answer(False, say("transcript_nothing"), "nothing_to_send")
        email = email.strip()
        if email and not valid_email(email):
            return Answer(False, say("transcript_bad_email"), "bad_email")
        if not email:
            email = _on_file(case, conversation.details, conversation.captured)
        if not email:
            return Answer(False, say("transcript_ask_email"), "email_needed")
        if not await self.cases.set_once(case["id"], SENT_FIELD, email):
            earlier = (await self.cases.get(case["id"])).get(SENT_FIELD) or email
            return Answer(True, say("transcript_already", email=earlier))
        content = await self._content(case, language, email)
        await self.mail.enqueue(outbox_id(case["id"]), content, self.clock())
        return Answer(True, say("transcript_queued", email=email))

    async def _closed_case(self, conversation_id: str) -> dict[str, str] | None:
        """The latest live chat a person closed in this conversation, if recent."""
        ids = await self.cases.customer_cases(conversation_id)
        now = self.clock()
        for row in await self.cases.get_many(ids):
            if row.get("kind", CaseKind.LIVE.value) != CaseKind.LIVE.value:
                continue
            if row.get("state") != CaseState.CLOSED.value or not row.get("end_seq"):
                continue
            if now - float(row.get("closed_at") or 0) <= RECENT:
                return row
        return None

    async def _content(self, case: Mapping[str, str], language: str, email: str) -> dict[str, str]:
        def say(key: str, **context: Any) -> str:
            return self.templates.render(language, key, **context)

        first, last = int(case.get("start_seq") or 1), int(case["end_seq"])
        entries = [
            e
            for e in await self.store.history(case["conversation_id"], 0, 2000)
            if first <= int(e["seq"]) <= last and e.get("role") != "note"
        ]
        started = float(entries[0]["ts"]) if entries else float(case.get("requested_at") or 0)
        date = dt.datetime.fromtimestamp(started, self.zone).strftime("%Y-%m-%d")
        lines = []
        for entry in entries:
            when = dt.datetime.fromtimestamp(float(entry["ts"]), self.zone).strftime("%H:%M")
            words = str(entry.get("text") or "")
            attachment = entry.get("attachment")
            if isinstance(attachment, dict) and attachment.get("name"):
                named = say("transcript_mail_file", name=attachment["name"])
                words = f"{words} {named}".strip()
            lines.append((when, self._who(entry, say), words))
        intro = say("transcript_mail_intro", date=date, zone=str(self.zone))
        outro = say("transcript_mail_outro")
        plain = "\n".join(f"[{when}] {who}: {words}" for when, who, words in lines)
        return {
            "case_id": outbox_id(case["id"]),
            "kind": KIND,
            "message_id": f"transcript.{case['id']}",
            "to": email,
            "subject": say("transcript_mail_subject", date=date),
            "text": f"{intro}\n\n{plain}\n\n{outro}\n",
            "html": _html(intro, lines, outro),
            "language": language,
            "attempts": "0",
            "created_at": f"{self.clock():.3f}",
        }

    @staticmethod
    def _who(entry: Mapping[str, Any], say: Callable[..., str]) -> str:
        role = entry.get("role")
        if role == "customer":
            return say("transcript_mail_you")
        if role == "agent":
            return str(entry.get("sender_name") or "")
        return say("transcript_mail_bot")


def _on_file(
    case: Mapping[str, str], details: Mapping[str, str], captured: Mapping[str, Any]
) -> str:
    """The customer's e-mail address as the case or conversation knows it ("" if none)."""
    try:
        from_case = json.loads(case.get("captured") or "{}").get("email", "")
    except (ValueError, AttributeError):
        from_case = ""
    for found in (
        case.get("customer_email", ""),
        details.get("customer_email", ""),
        from_case,
        captured.get("email", ""),
    ):
        if isinstance(found, str) and valid_email(found.strip()):
            return found.strip()
    return ""


def _html(intro: str, lines: list[tuple[str, str, str]], outro: str) -> str:
    e = html.escape
    rows = "".join(
        '<tr><td style="color:#57606a;padding:2px 8px 2px 0;vertical-align:top">'
        f"{e(when)}</td>"
        f'<td style="padding:2px 8px 2px 0;vertical-align:top"><b>{e(who)}</b></td>'
        f'<td style="padding:2px 0;white-space:pre-wrap">{e(words)}</td></tr>'
        for when, who, words in lines
    )
    return (
        '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5;color:#1f2328">'
        f"<p>{e(intro)}</p><table>{rows}</table><p>{e(outro)}</p></body></html>"
    )
