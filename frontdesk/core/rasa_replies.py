"""Turn Rasa's REST-channel messages into Outbound messages and frontdesk control markers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from frontdesk.core.messages import Outbound, QuickReply


def split_replies(
    messages: Iterable[dict[str, Any]],
) -> tuple[list[Outbound], list[dict[str, Any]]]:
    """Customer-facing messages, and the `custom.frontdesk` markers the bot sends the gateway.

    Text is split on blank lines into separate bubbles, as Rasa's socketio channel does, with
    the quick replies on the last part.
    """
    outbound: list[Outbound] = []
    controls: list[dict[str, Any]] = []
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("frontdesk"), dict):
            controls.append(custom["frontdesk"])
            continue
        buttons = tuple(
            QuickReply(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
            for b in message.get("buttons") or []
            if isinstance(b, dict) and b.get("title")
        )
        text = str(message.get("text") or "")
        parts = [p for p in text.strip().split("\n\n") if p.strip()] if text else []
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            outbound.append(Outbound(text=part.strip(), quick_replies=buttons if last else ()))
        if not parts and buttons:
            outbound.append(Outbound(quick_replies=buttons))
        if message.get("image"):
            outbound.append(Outbound(image=str(message["image"])))
        if isinstance(custom, dict):
            outbound.append(Outbound(custom=custom))
    return outbound, controls
