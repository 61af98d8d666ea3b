"""WhatsApp Cloud API webhook bodies read into one shape: texts, taps, photos and files.

A body is `{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":
"messages", "value": {"metadata": {"phone_number_id"}, "contacts": [...], "messages": [...]}}]}]}`
(https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples). Delivery
statuses (sent, delivered, read, failed), errors and other fields are not from the customer to
the bot and are skipped, as are messages to another phone number of the same account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from frontdesk.errors import BadInput

Kind = Literal["text", "unsupported", "button", "file"]

# Message types frontdesk cannot read yet, and how the transcript names them.
_LABELS = {
    "audio": "voice message",
    "video": "video",
    "sticker": "sticker",
    "location": "location",
    "contacts": "contact",
    "order": "order",
    "unsupported": "message",
}
_IGNORED = {"reaction", "system", "ephemeral", "request_welcome"}


@dataclass(frozen=True)
class Message:
    kind: Kind
    wa_id: str  # the customer's WhatsApp id: their phone number in international form, digits
    key: str  # the message id (wamid.…): dedupe and transcript id
    timestamp: float  # when the customer sent it (seconds)
    text: str  # what the transcript shows
    payload: str = ""  # what the bot receives, when it differs from the text (a tapped button)
    name: str = ""  # the customer's WhatsApp profile name
    media_id: str = ""  # a photo or file (kind "file")
    file_name: str = ""
    caption: str = ""


def parse_body(raw: Any, phone_number_id: str) -> list[Message]:
    """The customer messages to our number in a webhook body, in order; BadInput if it is not
    a WhatsApp Business Account event."""
    if not isinstance(raw, dict) or raw.get("object") != "whatsapp_business_account":
        raise BadInput("bad_request", 'expected {"object": "whatsapp_business_account", ...}')
    entries = raw.get("entry")
    if not isinstance(entries, list):
        raise BadInput("bad_request", "entry must be a list")
    found: list[Message] = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = change.get("value")
            if isinstance(value, dict) and _our_number(value, phone_number_id):
                found.extend(_messages(value))
    return found


def _our_number(value: Mapping[str, Any], phone_number_id: str) -> bool:
    metadata = value.get("metadata")
    return isinstance(metadata, dict) and str(metadata.get("phone_number_id")) == phone_number_id


def _messages(value: Mapping[str, Any]) -> list[Message]:
    names: dict[str, str] = {}
    for contact in value.get("contacts") or []:
        if isinstance(contact, dict) and isinstance(contact.get("profile"), dict):
            names[_str(contact.get("wa_id"))] = _str(contact["profile"].get("name")).strip()
    messages = value.get("messages")
    found = []
    for item in messages if isinstance(messages, list) else []:
        message = _message(item, names) if isinstance(item, dict) else None
        if message is not None:
            found.append(message)
    return found


def _message(item: Mapping[str, Any], names: Mapping[str, str]) -> Message | None:
    wa_id, key, kind = _str(item.get("from")), _str(item.get("id")), _str(item.get("type"))
    if not wa_id.isdigit() or not key or kind in _IGNORED:
        return None
    try:
        sent = float(_str(item.get("timestamp")) or "0")
    except ValueError:
        sent = 0.0
    name = names.get(wa_id, "")[:200]

    def make(kind: Kind, text: str, **more: str) -> Message:
        return Message(kind, wa_id, key, sent, text, name=name, **more)

    found = item.get(kind)
    body: Mapping[str, Any] = found if isinstance(found, dict) else {}
    if kind == "text":
        text = _str(body.get("body")).strip()
        return make("text", text) if text else make("unsupported", "[message]")
    if kind == "interactive":  # a reply button or a list row the customer tapped
        reply = body.get(_str(body.get("type")))
        if isinstance(reply, dict) and _str(reply.get("id")):
            title = _str(reply.get("title")).strip() or _str(reply.get("id"))
            return make("button", title, payload=_str(reply["id"]))
        return make("unsupported", "[message]")
    if kind == "button":  # a quick-reply button of a template message
        text = _str(body.get("text")).strip()
        payload = _str(body.get("payload")) or text
        return make("text", text or payload, payload=payload) if payload else None
    if kind in ("image", "document") and _str(body.get("id")):
        caption = _str(body.get("caption")).strip()
        if kind == "image":
            label, file_name = "photo", "photo.jpg"
        else:
            file_name = _str(body.get("filename"))[:100] or "file"
            label = f"file {file_name}"
        shown = f"[{label}] {caption}" if caption else f"[{label}]"
        return make("file", shown, media_id=body["id"], file_name=file_name, caption=caption)
    label = _LABELS.get(kind, "message")
    caption = _str(body.get("caption")).strip()
    return make("unsupported", f"[{label}] {caption}" if caption else f"[{label}]")


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
