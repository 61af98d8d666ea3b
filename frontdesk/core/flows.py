"""Business-editable behaviour from flows/: handoff rules, "did you mean" suggestions, why-tags
and canned replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment

from frontdesk.errors import ConfigError


@dataclass(frozen=True)
class Canned:
    key: str
    title: str
    template: Template


@dataclass(frozen=True)
class Suggestions:
    """flows/suggestions.yml: the bot's best guesses offered as buttons when it is not sure."""

    max_count: int = 2
    min_confidence: float = 0.1
    questions: dict[str, dict[str, str]] = field(default_factory=dict)  # answer -> lang -> text

    def question(self, answer_id: str, language: str, default_language: str) -> str:
        texts = self.questions.get(answer_id) or {}
        return texts.get(language) or texts.get(default_language) or ""


@dataclass(frozen=True)
class Flows:
    fallbacks_before_offer: int = 2
    agent_capacity: int = 3
    auto_assign: bool = False
    min_answer_confidence: float = 0.4
    show_customer_draft: bool = True  # agents see what the customer types before it is sent
    topics: dict[str, str] = field(default_factory=dict)  # intent -> why a person helps
    always_topics: frozenset[str] = frozenset()  # topics passed on without asking first
    area_labels: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    canned: dict[str, dict[str, Canned]] = field(default_factory=dict)  # language -> key -> reply
    suggestions: Suggestions = field(default_factory=Suggestions)

    def canned_for(self, language: str, default_language: str) -> dict[str, Canned]:
        return {**self.canned.get(default_language, {}), **self.canned.get(language, {})}


def _yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping")
    return data


def _strings(path: Path, data: Any, name: str) -> dict[str, str]:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {name} must map names to text")
    return {str(k): str(v) for k, v in data.items()}


def _topic_reasons(path: Path, topics: dict[Any, Any]) -> dict[str, str]:
    """A topic is `intent: reason`, or `intent: {reason: ..., always: true}` for one that is
    passed to a person without asking the customer first."""
    reasons = {}
    for key, value in topics.items():
        if isinstance(value, dict):
            if "reason" not in value:
                raise ConfigError(f"{path}: topic {key!r} needs a reason")
            value = value["reason"]
        reasons[str(key)] = str(value)
    return reasons


def load_suggestions(path: Path) -> Suggestions:
    data = _yaml(path)
    try:
        count = int(data.get("max_suggestions", 2))
        floor = float(data.get("min_suggestion_confidence", 0.1))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    questions: dict[str, dict[str, str]] = {}
    for answer, texts in (data.get("questions") or {}).items():
        if not isinstance(texts, dict) or "/" not in str(answer):
            raise ConfigError(f"{path}: {answer} must be area/question mapping languages to text")
        questions[str(answer)] = _strings(path, texts, str(answer))
    return Suggestions(max(0, count), floor, questions)


def load_flows(flows_dir: Path) -> Flows:
    """Read and validate flows/; raise ConfigError naming the file at fault."""
    handoff_path = flows_dir / "handoff.yml"
    handoff = _yaml(handoff_path)
    topics = handoff.get("topics") or {}
    if not isinstance(topics, dict):
        raise ConfigError(f"{handoff_path}: topics must map intents to a reason")
    try:
        fallbacks = int(handoff.get("fallbacks_before_offer", 2))
        capacity = int(handoff.get("agent_capacity", 3))
        min_answer = float(handoff.get("min_answer_confidence", 0.4))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{handoff_path}: {exc}") from exc
    if fallbacks < 1 or capacity < 1:
        raise ConfigError(f"{handoff_path}: fallbacks_before_offer and agent_capacity must be >= 1")
    tags = _yaml(flows_dir / "tags.yml").get("tags") or []
    if not isinstance(tags, list):
        raise ConfigError(f"{flows_dir / 'tags.yml'}: tags must be a list")
    env = SandboxedEnvironment(autoescape=False)
    canned: dict[str, dict[str, Canned]] = {}
    for path in sorted((flows_dir / "canned").glob("*.yml")):
        replies: dict[str, Canned] = {}
        for key, item in _yaml(path).items():
            if not isinstance(item, dict) or "text" not in item:
                raise ConfigError(f"{path}: {key} needs a title and a text")
            try:
                template = env.from_string(str(item["text"]))
            except Exception as exc:
                raise ConfigError(f"{path}: {key}: bad template: {exc}") from exc
            replies[str(key)] = Canned(str(key), str(item.get("title", key)), template)
        canned[path.stem] = replies
    return Flows(
        fallbacks_before_offer=fallbacks,
        agent_capacity=capacity,
        auto_assign=bool(handoff.get("auto_assign", False)),
        min_answer_confidence=min_answer,
        show_customer_draft=bool(handoff.get("show_customer_draft", True)),
        topics=_strings(handoff_path, _topic_reasons(handoff_path, topics), "topics"),
        always_topics=frozenset(
            str(k) for k, v in topics.items() if isinstance(v, dict) and v.get("always")
        ),
        area_labels=_strings(handoff_path, handoff.get("area_labels") or {}, "area_labels"),
        reasons=_strings(handoff_path, handoff.get("reasons") or {}, "reasons"),
        tags=tuple(str(t) for t in tags),
        canned=canned,
        suggestions=load_suggestions(flows_dir / "suggestions.yml"),
    )
