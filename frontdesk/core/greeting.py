"""The first screen (flows/greeting.yml): a greeting and topic buttons, per language, that
frontdesk's widget shows as soon as the chat opens, before the customer types.

It costs no bot turn: Rasa is not asked and nothing is stored in the transcript. The widget
gets it with the conversation's history when that history is read from its beginning (a page
load), so it stands once at the top of the conversation, and never again further down. A
button sends its payload as if the customer had typed it (its title is what the customer's
message shows), exactly as the bot's own greeting buttons do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frontdesk.core.flows import _yaml
from frontdesk.errors import ConfigError

MAX_TEXT = 2000
MAX_BUTTON = 200


@dataclass(frozen=True)
class Greeting:
    """Per language: `{"text": ..., "quick_replies": [{"title", "payload"}]}`."""

    screens: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def for_language(self, language: str, default_language: str) -> dict[str, Any] | None:
        """The greeting in the conversation's language (else the default one); None when
        flows/ has none."""
        screen = self.screens.get(language) or self.screens.get(default_language)
        if screen is None:
            return None
        return {
            "text": screen["text"],
            "quick_replies": [dict(q) for q in screen["quick_replies"]],
        }


def _button(path: Path, language: str, item: Any) -> dict[str, str]:
    if not isinstance(item, dict):
        raise ConfigError(f"{path}: {language}: each button needs a title and a payload")
    title, payload = item.get("title"), item.get("payload")
    if not isinstance(title, str) or not isinstance(payload, str):
        raise ConfigError(f"{path}: {language}: each button needs a title and a payload (text)")
    title, payload = title.strip(), payload.strip()
    if not title or not payload or len(title) > MAX_BUTTON or len(payload) > MAX_BUTTON:
        raise ConfigError(
            f"{path}: {language}: a button's title and payload are 1-{MAX_BUTTON} characters"
        )
    return {"title": title, "payload": payload}


def load_greeting(flows_dir: Path) -> Greeting:
    """Read flows/greeting.yml (no file, or an empty one: no greeting); raise ConfigError
    naming the file and the language at fault."""
    path = flows_dir / "greeting.yml"
    screens: dict[str, dict[str, Any]] = {}
    for language, item in _yaml(path).items():
        if not isinstance(item, dict):
            raise ConfigError(f"{path}: {language} must have a text and buttons")
        text = item.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise ConfigError(f"{path}: {language}: text must be 1-{MAX_TEXT} characters")
        buttons = item.get("buttons") or []
        if not isinstance(buttons, list):
            raise ConfigError(f"{path}: {language}: buttons must be a list")
        screens[str(language)] = {
            "text": text.strip(),
            "quick_replies": [_button(path, str(language), b) for b in buttons],
        }
    return Greeting(screens)
