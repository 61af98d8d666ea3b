"""Checks a draft must pass before it is published: every language present, placeholders the
bot can fill, and no example phrasing claimed by two answers (the clash is shown)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from frontdesk.knowledge.answers import AREAS, LANGUAGES, NAME, Answer

LANGUAGE_NAMES = {"en": "English", "ru": "Russian", "es": "Spanish"}
# The slots a response may name as {placeholder} (bot/domain.yml): Rasa fills them in.
SLOTS = frozenset({"order_number", "email", "language"})
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Problem:
    answer_id: str
    message: str
    other: str = ""  # the other answer of a clash


def normalise(example: str) -> str:
    """What makes two phrasings the same to the bot: case, punctuation and spacing aside."""
    words = re.sub(r"[^\w\s]", " ", example.casefold())
    return " ".join(words.split())


def placeholders(text: str) -> tuple[set[str], bool]:
    """The {names} in a text, and whether its braces are balanced."""
    names = set(PLACEHOLDER.findall(text))
    stripped = PLACEHOLDER.sub("", text)
    return names, "{" not in stripped and "}" not in stripped


def check_answer(answer: Answer) -> list[Problem]:
    problems: list[Problem] = []
    area, _, name = answer.id.partition("/")
    if area not in AREAS or not NAME.match(name):
        problems.append(Problem(answer.id, "the name must be an area and a short lower-case name"))
    seen: dict[str, set[str]] = {}
    for language in LANGUAGES:
        label = LANGUAGE_NAMES[language]
        text = answer.texts.get(language, "").strip()
        if not text:
            problems.append(Problem(answer.id, f"the {label} text is missing"))
            continue
        names, balanced = placeholders(text)
        if not balanced:
            problems.append(Problem(answer.id, f"the {label} text has a lone {{ or }}"))
        unknown = sorted(names - SLOTS)
        if unknown:
            known = ", ".join("{" + s + "}" for s in sorted(SLOTS))
            problems.append(
                Problem(
                    answer.id,
                    f"the {label} text names {{{unknown[0]}}}, which the bot cannot fill "
                    f"(it can fill {known})",
                )
            )
        seen[language] = names
        if not answer.question.get(language, "").strip():
            problems.append(Problem(answer.id, f"the {label} “Did you mean…?” question is missing"))
        if not any(e.strip() for e in answer.examples.get(language, [])):
            problems.append(Problem(answer.id, f"there is no {label} example"))
    if len({frozenset(v) for v in seen.values()}) > 1:
        problems.append(
            Problem(answer.id, "the languages name different placeholders; each must say the same")
        )
    return problems


def clashes(answers: dict[str, Answer]) -> list[Problem]:
    """Examples that two answers both claim: the bot cannot learn both."""
    owner: dict[tuple[str, str], tuple[str, str]] = {}
    found: list[Problem] = []
    for answer in answers.values():
        if answer.retired:
            continue
        for language, examples in answer.examples.items():
            for example in examples:
                key = (language, normalise(example))
                if not key[1]:
                    continue
                first = owner.setdefault(key, (answer.id, example))
                if first[0] != answer.id:
                    found.append(
                        Problem(
                            answer.id,
                            f"the example “{example}” is also an example of another answer "
                            f"(“{first[1]}”)",
                            other=first[0],
                        )
                    )
    return found


def validate(answers: dict[str, Answer]) -> list[Problem]:
    problems: list[Problem] = []
    for answer in answers.values():
        if not answer.retired:
            problems.extend(check_answer(answer))
    problems.extend(clashes(answers))
    if not any(not a.retired for a in answers.values()):
        problems.append(Problem("", "at least one answer must stay"))
    return problems
