"""One training for the whole knowledge editor, against a Rasa process of this module (never
the shared one: its model is swapped by `PUT /model`). A lead adds an answer in three languages
and teaches the bot a message from "could not answer"; trains the draft to try it and watches
the progress on the page; tries an English, a Russian and a Spanish sentence that only the new
examples cover and sees the new answer with its confidence and runner-up, by the draft's own
model, while customers still get the live bot's behaviour; a second gateway (another machine:
its own data directory, the same Redis) loads the model trained by the first to try the draft
there. Then the publish reuses the trained model: customers chatting through it get every
answer, a customer gets the new answer, the page shows that the taught message now gets it,
and a rollback puts the previous model back. Trains one model."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from frontdesk.app import make_app
from frontdesk.botmodel import ensure_model
from frontdesk.knowledge.web import KNOWLEDGE
from frontdesk.supervisor import RasaProcess
from tests.conftest import free_port, make_settings
from tests.support import customer
from tests.test_knowledge_browser import lead_page

pytestmark = pytest.mark.browser

QUESTION = "What payment methods do you accept?"
WRAP_EN = "Yes: add gift wrapping at checkout for 3 EUR, with a card and your message."
WRAP = {
    "en": (
        WRAP_EN,
        "Do you gift wrap?",
        "do you gift wrap\ncan you wrap it as a present\ngift wrapping available?\n"
        "is gift wrap an option",
    ),
    "ru": (
        "Да: подарочную упаковку можно добавить при оформлении заказа за 3 евро.",
        "Вы упаковываете подарки?",
        "упакуете как подарок?\nесть подарочная упаковка\nможно завернуть в подарочную бумагу",
    ),
    "es": (
        "Sí: añade el envoltorio de regalo al finalizar la compra por 3 EUR.",
        "¿Envolvéis para regalo?",
        "¿envolvéis para regalo?\n¿tenéis papel de regalo?\n¿podéis envolverlo como regalo?",
    ),
}
TAUGHT = "could you wrap my order in gift paper please"


@pytest.fixture
async def own_rasa(tmp_path: Path) -> AsyncIterator[str]:
    rasa = RasaProcess(ensure_model(quiet=True), free_port(), log_path=tmp_path / "rasa.log")
    await rasa.start()
    try:
        yield rasa.url
    finally:
        await rasa.stop()


async def loaded(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/status") as resp:
        return str((await resp.json())["model_file"])


TRIES = {  # sentences none of the shipped answers covers, in each language
    "en": "can you wrap it as a gift for my sister",
    "ru": "у вас есть подарочная упаковка для заказа?",
    "es": "¿me lo podéis envolver para regalo?",
}


async def try_on(page: Page, text: str) -> None:
    """Ask the draft, with the answer shown in the message's own language (the default)."""
    await page.locator(".fc-kb-try-text").fill(text)
    await page.locator(".fc-kb-try-form button").click()


async def expect_new_answer(page: Page, lang: str) -> None:
    await expect(page.locator(".fc-kb-try-answer")).to_have_text("shipping/gift_wrapping")
    await expect(page.locator(".fc-kb-try-confidence")).to_have_text(re.compile(r"^\d+ %$"))
    runner = page.locator(".fc-kb-try-runner")
    await expect(runner).not_to_be_empty()
    await expect(runner).not_to_have_text("shipping/gift_wrapping")
    await expect(page.locator(".fc-kb-try-text-shown")).to_have_text(WRAP[lang][0])
    await expect(page.locator(".fc-kb-try-by")).to_contain_text("By the draft's own model")


async def test_a_trained_draft_is_tried_then_published_to_customers_who_chat_through_it(
    own_rasa: str,
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    browser: Browser,
    people: list[Any],
) -> None:
    limits = {"RATE_LIMIT_PER_SECOND": "1000", "RATE_LIMIT_BURST": "1000"}  # chatting fast
    limits |= {"ADDRESS_MESSAGES_PER_SECOND": "1000", "ADDRESS_MESSAGE_BURST": "10000"}
    settings = make_settings(redis_url, own_rasa, tmp_path, RASA_TIMEOUT="120", **limits)
    server: TestServer = await aiohttp_server(make_app(settings))
    shipped = await loaded(own_rasa)
    page = await lead_page(server, browser)
    form = page.locator(".fc-kb-add-form")
    await form.locator('select[name="area"]').select_option("shipping")
    await form.locator('input[name="name"]').fill("gift_wrapping")
    for lang, (text, question, examples) in WRAP.items():
        await form.locator(f'textarea[name="text_{lang}"]').fill(text)
        await form.locator(f'input[name="question_{lang}"]').fill(question)
        await form.locator(f'textarea[name="examples_{lang}"]').fill(examples)
    await form.locator("button").click()
    await expect(page.locator(".fc-flash")).to_have_text(
        "Added shipping/gift_wrapping to the draft."
    )
    await expect(page.locator(".fc-kb-training-note")).to_contain_text("publishing trains it")
    # Trying it says the draft must be trained first (the live bot cannot answer for it).
    await try_on(page, "do you gift wrap")
    await expect(page.locator(".fc-kb-try-note")).to_have_text(
        "The draft changes what the bot learns: train it to try it."
    )
    # The loop: a message accepted on "could not answer" becomes an example in the draft.
    knowledge = server.app[KNOWLEDGE].knowledge
    assert await knowledge.learn("ex1", TAUGHT, "shipping/gift_wrapping", "en", "lena")

    # Train the draft to try it: the progress on the page, then the draft's own model answers.
    await page.goto(str(server.make_url("/console/knowledge")))
    await page.locator(".fc-kb-train").click()
    await expect(page.locator(".fc-flash")).to_have_text("Training the draft in the background.")
    await expect(page.locator(".fc-kb-job-state")).to_have_text("Working")
    await expect(page.locator(".fc-kb-job-step")).not_to_be_empty()
    await expect(page.locator(".fc-kb-trial-ready")).to_be_visible(timeout=900_000)
    await expect(page.locator(".fc-kb-job-state")).to_have_text("Done")
    await expect(page.locator(".fc-kb-job-step")).to_have_text("The draft is ready to try.")
    await expect(page.locator(".fc-kb-train")).to_have_count(0)
    # Every language's examples were trained, and each language is tried below.
    for lang, path in (
        ("en", "knowledge.yml"),
        ("ru", "ru/knowledge.yml"),
        ("es", "es/knowledge.yml"),
    ):
        (data,) = (tmp_path / "knowledge").glob(f"*/data/{path}")
        assert WRAP[lang][2].splitlines()[0] in data.read_text(encoding="utf-8")
    for lang in ("en", "ru"):
        await try_on(page, TRIES[lang])
        await expect_new_answer(page, lang)
    # Customers still talk to the live bot: nothing of the draft reaches them.
    assert await loaded(own_rasa) == shipped
    unpublished = await customer(server, people)
    await unpublished.say("do you offer gift wrapping?")
    assert WRAP_EN not in [m.get("text") for m in await unpublished.answer()]
    await expect(page.locator(".fc-kb-live-number")).to_have_text("1")

    # Another machine (its own data directory, the same Redis) has no try-out bot yet: trying
    # there loads the model trained above (from Redis) with its progress, then answers.
    (tmp_path / "b").mkdir()
    elsewhere = make_settings(redis_url, own_rasa, tmp_path / "b", **limits)
    other: TestServer = await aiohttp_server(make_app(elsewhere))
    other_page = await lead_page(other, browser)
    await try_on(other_page, TRIES["es"])
    await expect(other_page.locator(".fc-kb-try-note")).to_contain_text(
        "The draft's model is trained: it is being loaded for trying"
    )
    await expect(other_page.locator(".fc-kb-trial-ready")).to_be_visible(timeout=600_000)
    await expect_new_answer(other_page, "es")  # the page asked again once it was loaded
    await other_page.close()

    # Customers chat through the whole publish; every turn gets the whole answer.
    before = await customer(server, people)
    await before.say(QUESTION)
    expected = (await before.answer())[0]["text"]
    done = asyncio.Event()
    turns: list[str] = []

    async def chat() -> None:
        client = await customer(server, people)
        while not done.is_set():
            assert (await client.say(QUESTION)).get("ok")
            texts = [str(m.get("text") or "") for m in await client.answer(timeout=180)]
            turns.append("\n\n".join(texts))

    chatting = [asyncio.create_task(chat()) for _ in range(3)]
    await page.goto(str(server.make_url("/console/knowledge")))
    await page.locator(".fc-kb-note").fill("gift wrapping")
    await page.locator(".fc-kb-publish-btn").click()
    await expect(page.locator(".fc-flash")).to_have_text(
        "Publishing in the background: loading the trained model into the bot."
    )
    await expect(page.locator(".fc-kb-live-number")).to_have_text("2", timeout=900_000)
    await expect(page.locator(".fc-kb-job-state")).to_have_text("Done")
    done.set()
    await asyncio.gather(*chatting)
    assert turns and all(turn == expected for turn in turns), set(turns) - {expected}
    assert (await loaded(own_rasa)).startswith("knowledge-")
    # The publish used the model trained for trying: one model, trained once.
    assert len(list((tmp_path / "knowledge" / "models").glob("knowledge-*.tar.gz"))) == 1

    wrap = await customer(server, people)
    await wrap.say("do you offer gift wrapping?")
    assert [m["text"] for m in await wrap.answer()] == [WRAP_EN]
    # Published: the draft is the live version, and tries go to the live bot.
    await try_on(page, TRIES["en"])
    await expect(page.locator(".fc-kb-try-answer")).to_have_text("shipping/gift_wrapping")
    await expect(page.locator(".fc-kb-try-by")).to_contain_text("By the live bot")
    await page.goto(str(server.make_url("/console/unanswered")))
    taught = page.locator(".fc-taught-item").filter(has_text=TAUGHT)
    await expect(taught.locator(".fc-taught-now")).to_contain_text("Answers it")

    await page.goto(str(server.make_url("/console/knowledge")))
    await page.locator(".fc-kb-rollback").click()
    await expect(page.locator(".fc-kb-live-number")).to_have_text("3", timeout=600_000)
    assert await loaded(own_rasa) == shipped
    again = await customer(server, people)
    await again.say("do you offer gift wrapping?")
    assert WRAP_EN not in [m.get("text") for m in await again.answer()]
