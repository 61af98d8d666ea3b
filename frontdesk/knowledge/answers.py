"""The bot's FAQ answers as the knowledge editor sees them, read from and written to a Rasa
project: per answer (``area/name``) its text per language, its buttons, its "Did you mean…?"
question and its example phrasings per language.

Rasa keeps an answer's languages as variations of the response ``utter_<area>/<name>``, picked
by the ``language`` slot (the first variation, without a condition, is English); the examples
live in ``data/faq_*.yml`` (English), ``data/ru/`` and ``data/es/``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("en", "ru", "es")
AREAS = ("billing", "orders", "shipping", "returns", "account")
NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


@dataclass
class Answer:
    id: str  # area/name
    texts: dict[str, str] = field(default_factory=dict)
    question: dict[str, str] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    buttons: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    retired: bool = False

    @property
    def area(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split("/", 1)[1]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        return cls(
            id=str(data["id"]),
            texts={str(k): str(v) for k, v in (data.get("texts") or {}).items()},
            question={str(k): str(v) for k, v in (data.get("question") or {}).items()},
            examples={str(k): [str(e) for e in v] for k, v in (data.get("examples") or {}).items()},
            buttons={
                str(k): [{"title": str(b["title"]), "payload": str(b["payload"])} for b in v]
                for k, v in (data.get("buttons") or {}).items()
            },
            retired=bool(data.get("retired")),
        )


def faq_id(intent: Any) -> str:
    """``area/name`` when the intent is an FAQ answer of one of our areas, else ''."""
    if isinstance(intent, str) and "/" in intent and intent.split("/", 1)[0] in AREAS:
        return intent
    return ""


def language_of(path: Path, data_dir: Path) -> str:
    first = path.relative_to(data_dir).parts[0]
    return first if first in LANGUAGES else "en"


def _examples(block: Any) -> list[str]:
    lines = str(block or "").splitlines()
    return [re.sub(r"^\s*-\s?", "", line).strip() for line in lines if line.strip()]


def _variation_language(variation: dict[str, Any]) -> str:
    for condition in variation.get("condition") or []:
        if isinstance(condition, dict) and condition.get("name") == "language":
            return str(condition.get("value"))
    return "en"


def read_answers(data_dir: Path, suggestions: Path) -> dict[str, Answer]:
    """Every FAQ answer of a Rasa project's data directory (and flows/suggestions.yml)."""
    answers: dict[str, Answer] = {}

    def get(answer_id: str) -> Answer:
        return answers.setdefault(answer_id, Answer(answer_id))

    for path in sorted(data_dir.rglob("*.yml")):
        if path.name == "learned.yml":
            continue
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        language = language_of(path, data_dir)
        for item in document.get("nlu") or []:
            answer_id = faq_id(item.get("intent") if isinstance(item, dict) else None)
            if answer_id:
                get(answer_id).examples.setdefault(language, []).extend(
                    _examples(item.get("examples"))
                )
        for name, variations in (document.get("responses") or {}).items():
            answer_id = faq_id(str(name).removeprefix("utter_"))
            if not answer_id or not str(name).startswith("utter_"):
                continue
            answer = get(answer_id)
            for variation in variations or []:
                lang = _variation_language(variation)
                answer.texts[lang] = str(variation.get("text") or "")
                answer.buttons[lang] = [
                    {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                    for b in variation.get("buttons") or []
                ]
    if suggestions.is_file():
        questions = (yaml.safe_load(suggestions.read_text(encoding="utf-8")) or {}).get("questions")
        for answer_id, texts in (questions or {}).items():
            if answer_id in answers and isinstance(texts, dict):
                answers[answer_id].question = {str(k): str(v) for k, v in texts.items()}
    return dict(sorted(answers.items()))


def _block(examples: list[str]) -> str:
    return "".join(f"- {example}\n" for example in examples)


def _variations(answer: Answer) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for language in LANGUAGES:
        variation: dict[str, Any] = {"text": answer.texts.get(language, "")}
        if language != "en":
            condition = {"type": "slot", "name": "language", "value": language}
            variation = {"condition": [condition], **variation}
        if answer.buttons.get(language):
            variation["buttons"] = answer.buttons[language]
        out.append(variation)
    return out


class _Literal(str):
    """A string YAML writes as a literal block (the examples, one per line)."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


yaml.SafeDumper.add_representer(_Literal, _literal)


def training_files(answers: dict[str, Answer]) -> dict[str, str]:
    """The FAQ part of a Rasa project for these answers (retired ones left out):
    relative path -> YAML text, in a stable order (its hash names the model)."""
    live = [a for a in answers.values() if not a.retired]
    files: dict[str, str] = {}
    for language in LANGUAGES:
        nlu = [
            {"intent": a.id, "examples": _Literal(_block(a.examples.get(language, [])))}
            for a in live
            if a.examples.get(language)
        ]
        document: dict[str, Any] = {"version": "3.1", "nlu": nlu}
        if language == "en":
            document["responses"] = {f"utter_{a.id}": _variations(a) for a in live}
        path = "knowledge.yml" if language == "en" else f"{language}/knowledge.yml"
        files[path] = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=10_000)
    return files


def other_training_data(path: Path) -> str | None:
    """A data file with its FAQ answers taken out (they come from the knowledge instead), or
    None when nothing else is left in it."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    kept = dict(document)
    if "nlu" in document:
        kept["nlu"] = [
            item
            for item in document["nlu"] or []
            if not (isinstance(item, dict) and faq_id(item.get("intent")))
        ]
        for item in kept["nlu"]:
            if isinstance(item, dict) and isinstance(item.get("examples"), str):
                item["examples"] = _Literal(item["examples"])
    if "responses" in document:
        kept["responses"] = {
            k: v
            for k, v in (document["responses"] or {}).items()
            if not faq_id(str(k).removeprefix("utter_"))
        }
    if not any(kept.get(k) for k in kept if k != "version"):
        return None
    return yaml.safe_dump(kept, allow_unicode=True, sort_keys=False, width=10_000)
