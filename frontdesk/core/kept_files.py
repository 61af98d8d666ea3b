"""The photos and files kept on a conversation and on its cases (a JSON list field)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

FIELD = "attachments"  # on the conversation and on the case: a JSON list


def kept(raw: Mapping[str, str]) -> list[dict[str, Any]]:
    try:
        value = json.loads(raw.get(FIELD) or "[]")
    except ValueError:
        return []
    return [a for a in value if isinstance(a, dict)] if isinstance(value, list) else []


def of_topic(conversation: Mapping[str, str], segment_start: int) -> str:
    """The conversation's files sent since its topic started, for a new case ("" if none)."""
    files = [a for a in kept(conversation) if int(a.get("seq") or 0) >= segment_start]
    return json.dumps(files, ensure_ascii=False) if files else ""
