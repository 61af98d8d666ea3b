"""Messages in the Cloud API's shapes: text, reply buttons (at most three), a list (more
choices), media, and the template that carries a message outside the 24-hour window.

Quick replies degrade to fit: up to three become reply buttons, titles cut to 20 characters;
more become a list of up to ten rows, titles cut to 24 characters with the whole title as the
row's description. The id of each button or row is the quick reply's payload (or its short id),
so a tap routes exactly what the choice meant."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from frontdesk.channels.common import shorten, split_text

MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_BODY = 1024
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_LIST_BODY = 4096
_SPACES = re.compile(r"\s+")


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body, "preview_url": False}}


def body_limit(choices: int) -> int:
    """The longest text an interactive message with this many choices carries."""
    return MAX_BUTTON_BODY if choices <= MAX_BUTTONS else MAX_LIST_BODY


def interactive(body: str, choices: Sequence[tuple[str, str]], button: str) -> dict[str, Any]:
    """Reply buttons for (title, id) pairs up to three; a list behind `button` for more."""
    if len(choices) <= MAX_BUTTONS:
        buttons = [
            {
                "type": "reply",
                "reply": {"id": cid, "title": _unique(shorten(title, MAX_BUTTON_TITLE), i)},
            }
            for i, (title, cid) in enumerate(choices)
        ]
        return {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": body},
                "action": {"buttons": buttons},
            },
        }
    rows = []
    for title, cid in choices[:MAX_ROWS]:
        row = {"id": cid, "title": shorten(title, MAX_ROW_TITLE)}
        if row["title"] != " ".join(title.split()):  # cut: the whole title underneath
            row["description"] = shorten(title, MAX_ROW_DESCRIPTION)
        rows.append(row)
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": button, "sections": [{"rows": rows}]},
        },
    }


def _unique(title: str, index: int) -> str:
    return title or f"{index + 1}"


def media(
    kind: str, media_id: str | None = None, link: str | None = None, name: str = ""
) -> dict[str, Any]:
    """An image or a document, by uploaded media id or by link."""
    content: dict[str, Any] = {"id": media_id} if media_id else {"link": link}
    if kind == "document" and name:
        content["filename"] = name
    return {"type": kind, kind: content}


def template_texts(message: str, max_text: int) -> list[str]:
    """A message as template parameters: Meta refuses new lines, tabs and runs of spaces in
    them, so whitespace becomes single spaces; a long message becomes several parts."""
    flat = _SPACES.sub(" ", message).strip()
    return split_text(flat, max_text) if flat else []


def template(name: str, language_code: str, parameter: str) -> dict[str, Any]:
    return {
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language_code},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": parameter}]}],
        },
    }
