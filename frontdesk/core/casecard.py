"""The case card: everything an agent needs to know before saying a word."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from frontdesk.core.kept_files import kept

MESSAGE_PREVIEW = 300  # characters of a left message shown in the inbox list


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _same(a: str | None, b: str | None) -> bool:
    return _norm(a) == _norm(b)


def _news(summary: str | None, said: tuple[str | None, ...]) -> str | None:
    """What the summary adds to what was said: nothing when it repeats it, its rest when it
    starts with it ("the customer asked for a person, e-mail ana@…" -> "e-mail ana@…")."""
    text = " ".join((summary or "").split())
    for already in (_norm(s) for s in said if s):
        if _norm(text) == already:
            return None
        if _norm(text).startswith(already + ", "):
            text = text[len(already) + 2 :]
    return text or None


def reason_lines(
    case: Mapping[str, str], reasons: Mapping[str, str]
) -> tuple[str, str | None, str | None]:
    """Why a person was asked for, each thing said once: the reason as flows/handoff.yml words
    it, the detail when it adds to that, the summary when it adds to both."""
    code = case.get("reason") or ""
    text = reasons.get(code) or case.get("reason_detail") or code.replace("_", " ")
    detail = case.get("reason_detail") or None
    if _same(detail, text):
        detail = None
    return text, detail, _news(case.get("summary"), (text, detail))


def card(
    case: Mapping[str, str],
    transcript: Sequence[Mapping[str, Any]],
    reasons: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The card for a case, from its stored fields and the conversation's transcript
    (reasons: flows/handoff.yml's words for each handoff reason)."""
    reason_text, reason_detail, summary = reason_lines(case, reasons or {})
    requested = _float(case.get("requested_at")) or time.time()
    joined = _float(case.get("joined_at"))
    start, handoff = int(case.get("start_seq") or 1), int(case.get("handoff_seq") or 0)
    bot_answers = [
        str(e.get("text"))
        for e in transcript
        if e.get("role") == "bot" and e.get("text") and start <= int(e["seq"]) <= handoff
    ]
    return {
        "case_id": case.get("id"),
        "conversation_id": case.get("conversation_id"),
        "state": case.get("state"),
        "reason": case.get("reason"),
        "reason_text": reason_text,
        "reason_detail": reason_detail,
        "summary": summary,
        "area": case.get("area"),
        "intent": case.get("intent"),
        "confidence": _float(case.get("confidence")),
        "captured": json.loads(case.get("captured") or "{}"),
        "bot_answers": bot_answers,
        "language": case.get("language"),
        "channel": case.get("channel"),
        "channel_user": case.get("channel_user"),
        "page_url": case.get("page_url"),
        "customer": {
            key: case[f"customer_{key}"]
            for key in ("name", "email", "id")
            if case.get(f"customer_{key}")
        },
        "customer_label": customer_label(case),
        "also_asked": json.loads(case.get("also_asked") or "[]"),
        "kind": case.get("kind") or "live",
        "left_message": (
            {
                "email": case.get("email", ""),
                "answer_via": case.get("answer_via", ""),  # answered in the chat (WhatsApp)
                "message": case.get("message", ""),
                "promised_reply_by": case.get("promised_reply_by", ""),
                "promised_reply_at": _float(case.get("promised_reply_at")),
            }
            if case.get("kind") == "message"
            else None
        ),
        "mail": mail_status(case),
        "requested_at": requested,
        "joined_at": joined,
        "waited_seconds": round((joined or time.time()) - requested, 1),
        "agent": case.get("agent"),
        "tags": json.loads(case.get("tags") or "[]"),
        "attachments": kept(case),  # the customer's photos and files ("Photos and files")
    }


def queue_item(case: Mapping[str, str], now: float) -> dict[str, Any]:
    requested = _float(case.get("requested_at")) or now
    return {
        "case_id": case.get("id"),
        "conversation_id": case.get("conversation_id"),
        "requested_at": requested,
        "waited_seconds": round(now - requested, 1),
        "area": case.get("area"),
        "intent": case.get("intent"),
        "language": case.get("language"),
        "channel": case.get("channel"),
        "reason": case.get("reason_detail") or case.get("reason"),
        "summary": case.get("summary"),
        "customer": customer_label(case),
        "kind": case.get("kind") or "live",
        "promised_reply_by": case.get("promised_reply_by"),
    }


def message_item(case: Mapping[str, str], now: float) -> dict[str, Any]:
    """A left message in the offline inbox (or its answer, while the e-mail is undelivered)."""
    promised = _float(case.get("promised_reply_at"))
    waiting = case.get("state") == "queued"
    return {
        **queue_item(case, now),
        "email": case.get("email", ""),
        "message": case.get("message", "")[:MESSAGE_PREVIEW],
        "promised_reply_at": promised,
        "overdue": waiting and promised is not None and promised < now,
        "left_at": _float(case.get("left_at")),
        "state": case.get("state"),
        "agent": case.get("agent") or None,
        "mail": mail_status(case),
    }


def mail_status(case: Mapping[str, str]) -> dict[str, Any] | None:
    """Where the e-mail answering a left message stands (None before it is written)."""
    if not case.get("mail_state"):
        return None
    return {
        "state": case["mail_state"],
        "to": case.get("email", ""),
        "error": case.get("mail_error", ""),
        "attempts": int(case.get("mail_attempts") or 0),
        "next_attempt_at": _float(case.get("mail_next_at")),
        "sent_at": _float(case.get("mail_sent_at")),
    }


def customer_label(case: Mapping[str, str]) -> str:
    """The customer's name, else an e-mail address (theirs, or the one a left message gave),
    else the channel's user, else "Visitor xxxxxx"."""
    for key in ("customer_name", "customer_email", "email", "channel_user"):
        if case.get(key):
            return case[key]
    conversation = case.get("conversation_id", "")
    return f"Visitor {conversation[-6:]}" if conversation else "Visitor"


def earlier_item(case: Mapping[str, str]) -> dict[str, Any]:
    reason = case.get("reason_detail") or case.get("reason")
    return {
        "case_id": case.get("id"),
        "requested_at": _float(case.get("requested_at")),
        "closed_at": _float(case.get("closed_at")),
        "area": case.get("area"),
        "reason": reason,
        "summary": _news(case.get("summary"), (reason,)),
        "tags": json.loads(case.get("tags") or "[]"),
        "csat": case.get("csat"),
        "state": case.get("state"),
        "agent": case.get("agent"),
    }
