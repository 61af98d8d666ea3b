"""Channel-neutral message types: what arrives (Inbound) and what is sent (Outbound)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["customer", "bot", "agent", "system"]


@dataclass(frozen=True)
class QuickReply:
    title: str
    payload: str


@dataclass(frozen=True)
class Inbound:
    """A customer's message, already validated by its channel."""

    conversation_id: str
    channel: str
    text: str  # what the customer sees in the transcript
    # what the bot receives; defaults to text (a quick reply sends its payload; a photo or file
    # sends its caption, or nothing: the bot cannot look at the file itself)
    payload: str = ""
    client_msg_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    attachment: dict[str, Any] | None = None  # a stored file: {id, name, type, size}

    @property
    def bot_text(self) -> str:
        return self.payload or self.text


@dataclass(frozen=True)
class Outbound:
    """A message to a customer; richer parts degrade to text on channels without them."""

    text: str = ""
    quick_replies: tuple[QuickReply, ...] = ()
    image: str | None = None
    role: Role = "bot"
    sender_name: str | None = None
    custom: dict[str, Any] | None = None
    answer_id: str | None = None  # the FAQ answer this is (e.g. billing/invoice_copy)
    answer_confidence: float | None = None
    attachment: dict[str, Any] | None = None  # a stored file: {id, name, type, size}

    def to_entry(self) -> dict[str, Any]:
        """The transcript entry (without seq, which the store assigns)."""
        entry: dict[str, Any] = {"ts": time.time(), "role": self.role, "text": self.text}
        if self.quick_replies:
            entry["quick_replies"] = [
                {"title": q.title, "payload": q.payload} for q in self.quick_replies
            ]
        if self.image:
            entry["image"] = self.image
        if self.sender_name:
            entry["sender_name"] = self.sender_name
        if self.custom:
            entry["custom"] = self.custom
        if self.answer_id:
            entry["answer_id"] = self.answer_id
            entry["answer_confidence"] = self.answer_confidence
        if self.attachment:
            entry["attachment"] = dict(self.attachment)
        return entry


def customer_entry(inbound: Inbound) -> dict[str, Any]:
    entry: dict[str, Any] = {"ts": time.time(), "role": "customer", "text": inbound.text}
    if inbound.payload and inbound.payload != inbound.text:
        entry["payload"] = inbound.payload
    if inbound.client_msg_id:
        entry["client_msg_id"] = inbound.client_msg_id
    if inbound.attachment:
        entry["attachment"] = dict(inbound.attachment)
    return entry


@dataclass(frozen=True)
class BotReply:
    """One bot turn: Rasa's REST-channel messages and what the bot understood (the parse:
    intent, entities, response_selector)."""

    messages: list[dict[str, Any]]
    understood: dict[str, Any]
