"""The live texts the gateway relays: the published wording of every FAQ answer, per language,
replacing the text in the bot's reply (keyed by the answer id the bot chose). A wording change
is live as soon as it is published, without training; every process re-reads the texts when
their revision in Redis changes (checked every second) and at once in the process that
published. A turn whose answer the model no longer has (a swap in the middle of it) still
gets the whole answer, from its published text."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from frontdesk.core.flows import Suggestions
from frontdesk.core.understanding import understanding
from frontdesk.errors import StoreUnavailable
from frontdesk.knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)


def _is_control(message: dict[str, Any]) -> bool:
    custom = message.get("custom")
    return isinstance(custom, dict) and isinstance(custom.get("frontdesk"), dict)


class LiveTexts:
    def __init__(
        self, store: KnowledgeStore, suggestions: Callable[[], Suggestions | None] = lambda: None
    ) -> None:
        self.store = store
        self._suggestions = suggestions
        self.rev = -1
        self.texts: dict[str, str] = {}
        self.swapping = ""  # the Rasa whose model is being replaced right now

    async def refresh(self) -> None:
        rev = await self.store.texts_rev()
        self.swapping = await self.store.swapping()
        if rev == self.rev:
            return
        rev, texts, questions = await self.store.live_texts()
        self.rev, self.texts = rev, texts
        suggestions = self._suggestions()
        if suggestions is not None:  # the "Did you mean…?" buttons say the published question
            for key, question in questions.items():
                answer_id, _, language = key.rpartition("|")
                suggestions.questions.setdefault(answer_id, {})[language] = question

    async def run(self, interval: float = 1.0) -> None:
        while True:
            with contextlib.suppress(StoreUnavailable):
                await self.refresh()
            await asyncio.sleep(interval)

    def apply(
        self, messages: list[dict[str, Any]], understood: dict[str, Any], language: str
    ) -> list[dict[str, Any]]:
        """The bot's messages with the answer's published text in place of the model's."""
        if not self.texts or not understood:
            return messages
        fields = understanding({"latest_message": understood})
        answer_id = fields.get("intent", "")
        if fields.get("answer_matches") != "1" or "/" not in answer_id:
            return messages
        text = self.texts.get(f"{answer_id}|{language}") or self.texts.get(f"{answer_id}|en")
        if not text:
            return messages
        out = list(messages)
        for index, message in enumerate(out):
            if not _is_control(message) and (message.get("text") or message.get("buttons")):
                out[index] = {**message, "text": text}
                return out
        log.info("the bot's reply had no text for %s: its published text is sent", answer_id)
        return [{"text": text}, *out]
