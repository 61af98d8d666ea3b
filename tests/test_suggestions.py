"""Every "Did you mean…?" question (flows/suggestions.yml) is one the real bot answers with its
own answer, confidently, in every language; and every FAQ answer has one."""

from __future__ import annotations

import re

import aiohttp

from frontdesk.config import ROOT
from frontdesk.core.bot_turn import unsure
from frontdesk.core.flows import load_flows
from frontdesk.core.understanding import understanding

FLOWS = load_flows(ROOT / "flows")
LANGUAGES = ("en", "ru", "es")


def faq_answers() -> set[str]:
    """Every FAQ answer the bot has (its English responses in bot/data/faq_*.yml)."""
    found: set[str] = set()
    for path in (ROOT / "bot" / "data").glob("faq_*.yml"):
        found |= set(re.findall(r"^  utter_([a-z]+/[a-z_]+):", path.read_text(), re.MULTILINE))
    return found


def test_every_faq_answer_has_a_question_in_every_language() -> None:
    questions = FLOWS.suggestions.questions
    assert set(questions) == faq_answers()
    assert all(set(texts) == set(LANGUAGES) for texts in questions.values())


async def test_the_bot_answers_each_suggested_question_with_its_own_answer(rasa_url: str) -> None:
    wrong: list[str] = []
    async with aiohttp.ClientSession() as session:
        for answer, texts in FLOWS.suggestions.questions.items():
            for language, question in texts.items():
                async with session.post(f"{rasa_url}/model/parse", json={"text": question}) as r:
                    parse = await r.json()
                fields = understanding({"latest_message": parse})
                if fields.get("intent") != answer or unsure(fields, FLOWS.min_answer_confidence):
                    wrong.append(f"{answer} {language}: {question!r} -> {fields}")
    assert wrong == []
