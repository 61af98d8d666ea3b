"""How the console's pages name the codes they store: channels, languages, FAQ areas and the
bot's FAQ answers ("widget" -> "Website", "en" -> "English", "billing/currency" -> "Billing:
Which currencies can I pay in?"). Forms still send the codes; people read the names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from frontdesk.core.flows import Flows

CHANNELS = {"widget": "Website", "telegram": "Telegram", "messenger": "Messenger"}
LANGUAGES = {"en": "English", "ru": "Russian", "es": "Spanish"}
AREAS = {
    "billing": "Billing",
    "orders": "Orders",
    "shipping": "Shipping",
    "returns": "Returns and exchanges",
    "account": "Account",
}


def _words(code: str) -> str:
    text = " ".join(code.replace("_", " ").replace("-", " ").split())
    return text[:1].upper() + text[1:]


def channel(code: str) -> str:
    return CHANNELS.get(code) or _words(code)


def language(code: str) -> str:
    return LANGUAGES.get(code) or code.upper()


def area(code: str) -> str:
    return AREAS.get(code) or _words(code)


@dataclass(frozen=True)
class Labels:
    """The names above, and the FAQ answers' names from the question each one answers
    (flows/suggestions.yml, in the shop's default language)."""

    question: Callable[[str], str]

    def channel(self, code: str) -> str:
        return channel(code)

    def language(self, code: str) -> str:
        return language(code)

    def area(self, code: str) -> str:
        return area(code)

    def answer(self, answer_id: str) -> str:
        """ "billing/currency" -> "Billing: Which currencies can I pay in?" (the code's words
        when flows/ has no question for it)."""
        if not answer_id:
            return ""
        head, _, tail = answer_id.partition("/")
        asked = self.question(answer_id)
        return f"{area(head)}: {asked or _words(tail or head)}"

    def choices(self, name: str, codes: Iterable[str]) -> list[tuple[str, str]]:
        """(code, name) pairs for a filter's options, in the order given."""
        named = {"channel": channel, "language": language, "area": area}.get(name)
        return [(code, named(code) if named else code) for code in codes]


def labels_of(flows: Flows, default_language: str) -> Labels:
    """The console's labels, FAQ answers named in English when flows/ has it, else in the
    default language."""
    return Labels(lambda answer_id: flows.suggestions.question(answer_id, "en", default_language))
