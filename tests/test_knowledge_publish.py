"""A publish that trains, against a Rasa process of this module (never the shared one: its
model is swapped by `PUT /model`): a lead adds an answer and teaches the bot a message from
"could not answer", publishes, watches the progress on the page; customers chatting all the
while get every answer; then a customer gets the new answer, the page shows that the taught
message now gets it, and a rollback puts the previous model back. Trains one model (~2 min)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

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


async def test_a_trained_publish_reaches_customers_who_chat_through_it_then_rollback(
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
    await page.locator(".fc-kb-try-text").fill("do you gift wrap")
    await page.locator(".fc-kb-try-form button").click()
    await expect(page.locator(".fc-kb-try-note")).to_have_text(
        "The draft changes what the bot learns: train it to try it."
    )
    # The loop: a message accepted on "could not answer" becomes an example in the draft.
    knowledge = server.app[KNOWLEDGE].knowledge
    assert await knowledge.learn("ex1", TAUGHT, "shipping/gift_wrapping", "en", "lena")

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
    await page.locator(".fc-kb-note").fill("gift wrapping")
    await page.locator(".fc-kb-publish-btn").click()
    await expect(page.locator(".fc-flash")).to_have_text(
        "Publishing in the background: training the bot and loading it."
    )
    await expect(page.locator(".fc-kb-job-state")).to_have_text("Working")
    await expect(page.locator(".fc-kb-job-step")).not_to_be_empty()
    await expect(page.locator(".fc-kb-live-number")).to_have_text("2", timeout=900_000)
    await expect(page.locator(".fc-kb-job-state")).to_have_text("Done")
    done.set()
    await asyncio.gather(*chatting)
    assert turns and all(turn == expected for turn in turns), set(turns) - {expected}
    assert (await loaded(own_rasa)).startswith("knowledge-")

    wrap = await customer(server, people)
    await wrap.say("do you offer gift wrapping?")
    assert [m["text"] for m in await wrap.answer()] == [WRAP_EN]
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
