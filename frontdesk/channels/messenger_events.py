"""Messenger Platform webhook bodies read into one shape: messages, quick replies, postbacks.

Echoes, deliveries, reads, reactions and standby events are not from the customer to the bot
and are skipped (https://developers.facebook.com/docs/messenger-platform/webhooks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from frontdesk.errors import BadInput

Kind = Literal["text", "unsupported", "edit", "file"]


@dataclass(frozen=True)
class Event:
    kind: Kind
    psid: str
    key: str  # unique per event (the message's mid): dedupe and transcript id
    text: str  # what the transcript shows
    payload: str = ""  # what the bot receives, when it differs from text
    files: tuple[tuple[str, str], ...] = ()  # (kind, url) of images and files (kind "file")


def parse_body(raw: Any) -> list[Event]:
    """The customer events in a webhook body, in order; BadInput if it is not a page event."""
    if not isinstance(raw, dict) or raw.get("object") != "page":
        raise BadInput("bad_request", 'expected {"object": "page", "entry": [...]}')
    entries = raw.get("entry")
    if not isinstance(entries, list):
        raise BadInput("bad_request", "entry must be a list")
    events: list[Event] = []
    for entry in entries:
        messaging = entry.get("messaging") if isinstance(entry, dict) else None
        for item in messaging if isinstance(messaging, list) else []:
            event = _event(item) if isinstance(item, dict) else None
            if event is not None:
                events.append(event)
    return events


def _event(item: Mapping[str, Any]) -> Event | None:
    sender = item.get("sender")
    psid = sender.get("id") if isinstance(sender, dict) else None
    if not isinstance(psid, str) or not psid:
        return None
    message = item.get("message")
    if isinstance(message, dict):
        return _message(psid, message)
    postback = item.get("postback")
    if isinstance(postback, dict):
        payload = _str(postback.get("payload"))
        title = _str(postback.get("title")) or payload
        if not title:
            return None
        key = _str(postback.get("mid")) or f"postback:{psid}:{item.get('timestamp')}"
        return Event("text", psid, key, title, payload)
    edit = item.get("message_edit")
    if isinstance(edit, dict) and _str(edit.get("mid")):
        key = f"edit:{edit['mid']}:{edit.get('num_edit', '')}"
        return Event("edit", psid, key, f"[edited message] {_str(edit.get('text'))}".strip())
    return None  # delivery, read, reaction, referral, …


def _message(psid: str, message: Mapping[str, Any]) -> Event | None:
    mid = _str(message.get("mid"))
    if message.get("is_echo") or not mid:
        return None
    text = _str(message.get("text")).strip()
    quick = message.get("quick_reply")
    payload = _str(quick.get("payload")) if isinstance(quick, dict) else ""
    if text:
        return Event("text", psid, mid, text, payload)
    attachments = message.get("attachments")
    items = attachments if isinstance(attachments, list) else []
    kinds = [_attachment(a) for a in items] or ["message"]
    shown = " ".join(f"[{k}]" for k in dict.fromkeys(kinds))
    files = tuple(
        (kind, _str(item["payload"].get("url")))
        for kind, item in zip(kinds, items, strict=False)
        if kind in ("image", "file")
        and isinstance(item.get("payload"), dict)
        and _str(item["payload"].get("url")).startswith(("https://", "http://"))
    )
    if files:
        return Event("file", psid, mid, shown, files=files)
    return Event("unsupported", psid, mid, shown)


def _attachment(attachment: Any) -> str:
    if not isinstance(attachment, dict):
        return "attachment"
    payload = attachment.get("payload")
    if attachment.get("type") == "sticker" or (
        isinstance(payload, dict) and payload.get("sticker_id")
    ):
        return "sticker"
    kind = _str(attachment.get("type"))
    return {"fallback": "link", "file": "file"}.get(kind, kind or "attachment")


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
