"""What the widget channel sends: Rasa's message shapes, frontdesk's extras, history entries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def plain_shape(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A stored bot/agent/system entry exactly as Rasa's socketio channel emits it (stock Rasa
    web clients recognise a message by its exact set of keys)."""
    message: dict[str, Any] = {}
    if entry.get("text"):
        message["text"] = entry["text"]
    if entry.get("quick_replies"):
        message["quick_replies"] = [
            {"content_type": "text", "title": q["title"], "payload": q["payload"]}
            for q in entry["quick_replies"]
        ]
    if entry.get("image"):
        message["attachment"] = {"type": "image", "payload": {"src": entry["image"]}}
    if entry.get("custom"):
        message["custom"] = entry["custom"]
    return message


def rasa_shape(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Rasa's shape plus frontdesk's extras (seq, ts, who sent it), for frontdesk's widget."""
    message = plain_shape(entry)
    message["seq"] = entry.get("seq")  # None: delivered while the store was down, stored later
    message["ts"] = entry["ts"]
    message["sender"] = {"kind": entry["role"], "name": entry.get("sender_name")}
    for key in ("answer_id", "answer_confidence"):
        if entry.get(key) is not None:
            message[key] = entry[key]
    if entry.get("attachment"):  # a photo or file: {id, name, type, size, url}
        message["file"] = entry["attachment"]
    return message


def plain_room(conversation_id: str) -> str:
    """The room of a conversation's stock Rasa clients (no extras)."""
    return f"plain:{conversation_id}"


def history_shape(entry: Mapping[str, Any]) -> dict[str, Any]:
    if entry["role"] == "customer":
        item = {"seq": entry["seq"], "ts": entry["ts"], "role": "customer", "text": entry["text"]}
        if entry.get("client_msg_id"):
            item["client_msg_id"] = entry["client_msg_id"]
        if entry.get("attachment"):
            item["file"] = entry["attachment"]
        return item
    return {"role": entry["role"], **rasa_shape(entry)}
