"""flows/whatsapp.yml: the approved template that carries a message outside the 24-hour
customer-service window, the list button's words, and a new customer's language from their
number's country calling code. Checked at start-up; a mistake names the file and the field."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from frontdesk.errors import ConfigError

FILE = "whatsapp.yml"
MAX_LIST_BUTTON = 20  # interactive.action.button
MAX_TEMPLATE_TEXT = 1024  # a template body, its own words included
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2}|_[A-Za-z]{4})?$")


@dataclass(frozen=True)
class WhatsAppFlows:
    template_name: str
    template_languages: Mapping[str, str]  # conversation language -> template language code
    template_max_text: int
    list_button: Mapping[str, str]
    country_languages: Mapping[str, str]  # calling code -> language
    default_language: str

    def template_language(self, language: str) -> str:
        return (
            self.template_languages.get(language) or self.template_languages[self.default_language]
        )

    def button(self, language: str) -> str:
        return self.list_button.get(language) or self.list_button[self.default_language]

    def language_of(self, wa_id: str) -> str | None:
        """The language of the number's country, by the longest calling code that matches."""
        for length in range(4, 0, -1):
            language = self.country_languages.get(wa_id[:length])
            if language is not None:
                return language
        return None


def load_whatsapp_flows(
    flows_dir: Path, languages: Sequence[str], default_language: str
) -> WhatsAppFlows:
    path = flows_dir / FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        why = exc.strerror
        raise ConfigError(f"{path} is needed for WhatsApp and cannot be read: {why}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping (reply_template, list_button, …)")

    def fail(field: str, why: str) -> ConfigError:
        return ConfigError(f"{path}: {field} {why}")

    template = raw.get("reply_template")
    if not isinstance(template, dict):
        raise fail("reply_template", "must name the approved template (name, languages)")
    name = str(template.get("name") or "")
    if not _TEMPLATE_NAME.match(name):
        raise fail(
            "reply_template.name", f"must be a template name like frontdesk_reply, not {name!r}"
        )
    codes = _mapping(template.get("languages"), "reply_template.languages", fail)
    for language, code in codes.items():
        if not _LANGUAGE_CODE.match(code):
            raise fail(f"reply_template.languages.{language}", f"is not a language code: {code!r}")
    max_text = template.get("max_text", 900)
    if not isinstance(max_text, int) or isinstance(max_text, bool) or not 1 <= max_text <= 1000:
        raise fail("reply_template.max_text", f"must be a whole number 1-1000, not {max_text!r}")
    buttons = _mapping(raw.get("list_button"), "list_button", fail)
    for language, words in buttons.items():
        if len(words) > MAX_LIST_BUTTON:
            raise fail(f"list_button.{language}", f"must be at most {MAX_LIST_BUTTON} characters")
    countries = _mapping(raw.get("country_languages") or {}, "country_languages", fail)
    for code, language in countries.items():
        if not code.isdigit() or len(code) > 4 or language not in languages:
            raise fail(
                f"country_languages.{code}", f"must map a calling code to one of {list(languages)}"
            )
    for field, values in (("reply_template.languages", codes), ("list_button", buttons)):
        if default_language not in values:
            raise fail(field, f"needs DEFAULT_LANGUAGE {default_language!r}")
    return WhatsAppFlows(name, codes, max_text, buttons, countries, default_language)


def _mapping(value: Any, field: str, fail: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(v, (str, int)) and str(v).strip() for v in value.values()
    ):
        raise fail(field, "must map names to words")
    return {str(k): str(v).strip() for k, v in value.items()}
