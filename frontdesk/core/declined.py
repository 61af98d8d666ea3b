"""What the customer reads when the bot is not sure enough to answer: no guess given as an
answer, but its best guesses offered as questions to tap ("Did you mean…?", from
flows/suggestions.yml) and a person, always."""

from __future__ import annotations

from typing import Any

from frontdesk.core.conversation import REQUEST_PERSON
from frontdesk.core.flows import Suggestions
from frontdesk.core.messages import Outbound, QuickReply
from frontdesk.core.templates import Templates
from frontdesk.core.understanding import guesses


def suggested_answers(suggestions: Suggestions, parse: dict[str, Any]) -> list[str]:
    """The answers to offer for a message the bot was not sure of, best guess first."""
    likely = [a for a, c in guesses(parse) if c >= suggestions.min_confidence]
    return [a for a in likely if a in suggestions.questions][: suggestions.max_count]


def suggested(
    suggestions: Suggestions, parse: dict[str, Any], language: str, default: str
) -> list[str]:
    """The questions to offer, in the customer's language."""
    answers = suggested_answers(suggestions, parse)
    return [suggestions.question(a, language, default) for a in answers]


def not_sure_reply(
    templates: Templates, suggestions: Suggestions, parse: dict[str, Any], language: str
) -> Outbound:
    questions = suggested(suggestions, parse, language, templates.default_language)
    text = templates.render(language, "unsure_suggest" if questions else "unsure_answer")
    person = QuickReply(templates.render(language, "button_talk_to_person"), REQUEST_PERSON)
    return Outbound(text=text, quick_replies=(*(QuickReply(q, q) for q in questions), person))
