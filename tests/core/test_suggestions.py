"""Not sure: no guess given as an answer, but the best guesses offered as questions to tap."""

from __future__ import annotations

from tests.core.conftest import TEMPLATES, Desk
from tests.fake_rasa import Turn

VAGUE = Turn(
    "shipping",
    0.6,
    "shipping/express",
    0.3,
    ("Express delivery costs 9.90 EUR…",),
    ranking=(("shipping/options_costs", 0.25), ("orders/status", 0.12), ("billing/currency", 0.05)),
)


def buttons(desk: Desk) -> list[tuple[str, str]]:
    last = [d for c, kind, d in desk.screen.sent if kind == "message"][-1]
    return [(q["title"], q["payload"]) for q in last.get("quick_replies", [])]


async def test_the_best_guesses_are_offered_as_questions_next_to_a_person(desk: Desk) -> None:
    await desk.open("c1")
    desk.bot.script["delivery choices for my place"] = VAGUE
    (reply,) = await desk.say("c1", "delivery choices for my place")
    assert reply == TEMPLATES.render("en", "unsure_suggest")
    assert buttons(desk) == [
        ("Do you offer express delivery?", "Do you offer express delivery?"),
        (
            "Where do you ship, and what are the options and costs?",
            "Where do you ship, and what are the options and costs?",
        ),
        ("Talk to a person", "/human_handoff"),
    ]  # two at most; orders/status (0.12) would be third, billing/currency is too unlikely


async def test_the_questions_are_in_the_customers_language(desk: Desk) -> None:
    await desk.open("c1", "es")
    desk.bot.script["opciones para mi sitio"] = VAGUE
    await desk.say("c1", "opciones para mi sitio")
    assert [title for title, _ in buttons(desk)] == [
        "¿Tienen envío exprés?",
        "¿A dónde envían, con qué opciones y cuánto cuesta?",
        "Hablar con una persona",
    ]


async def test_with_no_likely_guess_the_bot_asks_for_more(desk: Desk) -> None:
    await desk.open("c1")
    desk.bot.script["hmm"] = Turn("billing", 0.5, "billing/currency", 0.05, ("…",))
    (reply,) = await desk.say("c1", "hmm")
    assert reply == TEMPLATES.render("en", "unsure_answer")
    assert buttons(desk) == [("Talk to a person", "/human_handoff")]
