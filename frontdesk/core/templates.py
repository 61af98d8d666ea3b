"""Messages the gateway itself writes, from flows/messages/<lang>.yml jinja2 templates."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from frontdesk.errors import ConfigError


class Templates:
    """Per-language message templates; a key missing in one language falls back to the default."""

    def __init__(self, flows_dir: Path, default_language: str) -> None:
        self.default_language = default_language
        self._env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._templates: dict[str, dict[str, Template]] = {}
        messages_dir = flows_dir / "messages"
        for path in sorted(messages_dir.glob("*.yml")):
            self._templates[path.stem] = self._load(path)
        if default_language not in self._templates:
            raise ConfigError(f"no message templates for {default_language!r} in {messages_dir}")

    def _load(self, path: Path) -> dict[str, Template]:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{path} must map message keys to templates")
        try:
            return {str(k): self._env.from_string(str(v)) for k, v in raw.items()}
        except Exception as exc:  # jinja2 syntax errors name the line
            raise ConfigError(f"{path}: bad template: {exc}") from exc

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._templates)

    def render(self, language: str, key: str, **context: Any) -> str:
        for lang in (language, self.default_language):
            template = self._templates.get(lang, {}).get(key)
            if template is not None:
                return template.render(**context).strip()
        raise KeyError(f"no message template {key!r}")

    def say(self, conversation: Mapping[str, str], key: str, **context: Any) -> str:
        """A message in the conversation's own language."""
        language = conversation.get("language", self.default_language)
        return self.render(language, key, **context)

    def pick_language(self, *candidates: str | None) -> str:
        """The first supported language among candidates (tags like es-ES or Accept-Language)."""
        for candidate in candidates:
            for tag in _tags(candidate or ""):
                if tag in self._templates:
                    return tag
        return self.default_language


def _tags(value: str) -> list[str]:
    """'es-ES,es;q=0.9,en;q=0.8' -> ['es', 'es', 'en'] in preference order."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(value.split(",")):
        lang, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        base = lang.strip().lower().replace("_", "-").split("-")[0]
        if base and base != "*":
            weighted.append((-weight, index, base))
    return [tag for _, _, tag in sorted(weighted)]
