"""Telegram Update objects (https://core.telegram.org/bots/api#update) read into one shape."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from frontdesk.errors import BadInput

Kind = Literal["text", "unsupported", "edit", "button", "ignored", "file"]

# Message fields that carry content frontdesk cannot read yet, and how the transcript names them.
_CONTENT = (
    ("sticker", "sticker"),
    ("photo", "photo"),
    ("animation", "GIF"),
    ("video", "video"),
    ("video_note", "video message"),
    ("voice", "voice message"),
    ("audio", "audio"),
    ("document", "file"),
    ("location", "location"),
    ("venue", "place"),
    ("contact", "contact"),
    ("poll", "poll"),
    ("dice", "dice"),
)
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True)
class Update:
    update_id: int
    kind: Kind
    chat_id: str = ""
    user: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""  # what the transcript shows
    payload: str = ""  # what the bot receives, when it differs from text
    message_id: str = ""
    callback_id: str = ""
    callback_data: str = ""
    message: Mapping[str, Any] | None = None  # the message a pressed button belongs to
    file_id: str = ""  # a photo or document (kind "file")
    file_name: str = ""
    file_size: int | None = None

    @property
    def client_msg_id(self) -> str:
        if self.kind == "button":
            return f"tg-cb:{self.callback_id}"
        if self.kind == "edit":
            return f"tg-edit:{self.update_id}"
        return f"tg-msg:{self.message_id}"


def parse_update(raw: Any) -> Update:
    """Raise BadInput for a body that is not an Update; unknown kinds come back as "ignored"."""
    if not isinstance(raw, dict):
        raise BadInput("bad_request", "an update must be a JSON object")
    update_id = raw.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise BadInput("bad_request", "update_id must be an integer")
    if "message" in raw:
        return _message(update_id, _object(raw["message"], "message"))
    if "edited_message" in raw:
        message = _object(raw["edited_message"], "edited_message")
        chat_id, user = _chat(message)
        text = _str(message.get("text")) or _str(message.get("caption"))
        shown = f"[edited message] {text}".strip()
        return Update(update_id, "edit", chat_id, user, shown, message_id=_id(message))
    if "callback_query" in raw:
        return _callback(update_id, _object(raw["callback_query"], "callback_query"))
    return Update(update_id, "ignored")


def _message(update_id: int, message: Mapping[str, Any]) -> Update:
    chat_id, user = _chat(message)
    message_id = _id(message)
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        text = text.strip()
        return Update(update_id, "text", chat_id, user, text, _command(text), message_id)
    file = _file(message)
    if file is not None:
        file_id, file_name, size, label = file
        caption = _str(message.get("caption")).strip()
        shown = f"[{label}] {caption}" if caption else f"[{label}]"
        return Update(
            update_id,
            "file",
            chat_id,
            user,
            shown,
            caption,  # the bot reads the caption (it cannot look at the file)
            message_id=message_id,
            file_id=file_id,
            file_name=file_name,
            file_size=size,
        )
    for name, label in _CONTENT:
        if name in message:
            described = f"[{label}{_detail(name, message.get(name))}]"
            caption = _str(message.get("caption")).strip()
            shown = f"{described} {caption}" if caption else described
            return Update(update_id, "unsupported", chat_id, user, shown, message_id=message_id)
    # Service messages (members joining, pinned messages, …) are not from the customer.
    return Update(update_id, "ignored", chat_id, user, message_id=message_id)


def _file(message: Mapping[str, Any]) -> tuple[str, str, int | None, str] | None:
    """(file_id, name, size, label) of a photo (its largest size) or a document."""
    photos = message.get("photo")
    if isinstance(photos, list) and photos and isinstance(photos[-1], dict):
        largest = photos[-1]
        if isinstance(largest.get("file_id"), str):
            return largest["file_id"], "photo.jpg", _size(largest), "photo"
    document = message.get("document")
    if isinstance(document, dict) and isinstance(document.get("file_id"), str):
        name = _str(document.get("file_name"))[:100] or "file"
        return document["file_id"], name, _size(document), f"file {name}"
    return None


def _size(value: Mapping[str, Any]) -> int | None:
    size = value.get("file_size")
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def _callback(update_id: int, query: Mapping[str, Any]) -> Update:
    callback_id = query.get("id")
    if not isinstance(callback_id, str) or not callback_id:
        raise BadInput("bad_request", "callback_query.id must be a string")
    user = _object(query.get("from"), "callback_query.from")
    message = query.get("message") if isinstance(query.get("message"), dict) else None
    if message is not None:
        chat_id, _ = _chat(message)
    else:  # a button under an inline-mode message: answer in the private chat
        chat_id = str(user.get("id", ""))
    data = query.get("data")
    if not isinstance(data, str) or not chat_id:
        return Update(update_id, "ignored", chat_id, user, callback_id=callback_id)
    return Update(
        update_id,
        "button",
        chat_id,
        user,
        callback_id=callback_id,
        callback_data=data,
        message=message,
    )


def _command(text: str) -> str:
    """Bot payload for a command: /start greets; other commands go as plain words, so Rasa
    does not read them as intent names."""
    match = _COMMAND.match(text)
    if match is None:
        return ""
    name, rest = match.group(1).lower(), (match.group(2) or "").strip()
    if name == "start":
        return "/greet"
    return f"{name} {rest}".strip()


def _detail(name: str, value: Any) -> str:
    if name == "sticker" and isinstance(value, dict) and isinstance(value.get("emoji"), str):
        return f" {value['emoji']}"
    if name == "document" and isinstance(value, dict) and isinstance(value.get("file_name"), str):
        return f" {value['file_name'][:100]}"
    return ""


def identity(user: Mapping[str, Any]) -> dict[str, str]:
    """Who the customer is on Telegram, for the agent's case card."""
    details: dict[str, str] = {}
    name = " ".join(_str(user.get(k)).strip() for k in ("first_name", "last_name")).strip()
    if name:
        details["customer_name"] = name[:200]
    username = _str(user.get("username"))
    if username:
        details["channel_user"] = f"@{username}"
    elif user.get("id") is not None:
        details["channel_user"] = f"Telegram user {user['id']}"
    return details


def _chat(message: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    chat = _object(message.get("chat"), "message.chat")
    chat_id = chat.get("id")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        raise BadInput("bad_request", "message.chat.id must be an integer")
    user = message.get("from")
    return str(chat_id), user if isinstance(user, dict) else {}


def _id(message: Mapping[str, Any]) -> str:
    value = message.get("message_id")
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadInput("bad_request", "message.message_id must be an integer")
    return str(value)


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadInput("bad_request", f"{name} must be an object")
    return value


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
