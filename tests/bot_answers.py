"""What the bot may answer, read from the bot's own training data (bot/data/*.yml)."""

from __future__ import annotations

from functools import cache

import yaml

from frontdesk.botmodel import BOT_DIR


@cache
def responses() -> dict[str, list[str]]:
    """Response name (utter_billing/invoice_copy, utter_greet, …) -> its text variations."""
    found: dict[str, list[str]] = {}
    files = [BOT_DIR / "domain.yml", *sorted((BOT_DIR / "data").glob("*.yml"))]
    for path in files:
        data = yaml.safe_load(path.read_text()) or {}
        for name, variations in (data.get("responses") or {}).items():
            found.setdefault(name, []).extend(str(v.get("text", "")) for v in variations)
    return found


def response_of(text: str) -> str | None:
    """The response a bot message came from (messages are split on blank lines)."""
    for name, variations in responses().items():
        for variation in variations:
            parts = [p.strip() for p in variation.split("\n\n")]
            if text.strip() in parts:
                return name
    return None


def area_of(text: str) -> str | None:
    name = response_of(text)
    if name and "/" in name:
        return name.removeprefix("utter_").split("/")[0]
    return None
