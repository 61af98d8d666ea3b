"""The first minute, in headless Chromium against the real bot: opening the widget shows the
greeting and topic buttons of flows/greeting.yml in the customer's language before they type,
and that costs no bot turn (Rasa has heard nothing, the transcript is empty). A topic button
is then answered like a typed question; a reload shows the greeting once, at the top."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from frontdesk.app import STORE
from frontdesk.config import ROOT
from frontdesk.core.greeting import load_greeting
from frontdesk.errors import ConfigError
from tests.bot_answers import area_of

GREETING = load_greeting(ROOT / "flows")


async def _user_events(rasa_url: str, conversation_id: str) -> list[str]:
    """What Rasa's tracker for the conversation has heard from the customer."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{rasa_url}/conversations/{conversation_id}/tracker") as response,
    ):
        assert response.status == 200
        tracker = await response.json()
    return [e.get("text") for e in tracker.get("events") or [] if e.get("event") == "user"]


@pytest.mark.rasa
@pytest.mark.browser
@pytest.mark.parametrize("locale", ["en-US", "es-ES", "ru-RU"])
async def test_the_widget_greets_with_topics_before_the_customer_types(
    gateway: TestServer, browser: Browser, rasa_url: str, locale: str
) -> None:
    language = locale[:2]
    screen = GREETING.for_language(language, "en")
    assert screen is not None and screen["quick_replies"]
    context = await browser.new_context(locale=locale)
    errors: list[str] = []
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(gateway.make_url("/")))
    await page.locator(".fd-launcher").click()

    # Before typing anything: the greeting and its topics, in the customer's language.
    await expect(page.locator(".fd-greeting-text")).to_have_text(screen["text"])
    titles = [q["title"] for q in screen["quick_replies"]]
    await expect(page.locator(".fd-quick-reply")).to_have_text(titles)
    await expect(page.locator(".fd-msg")).to_have_count(0)  # no message of the transcript
    session_id = await page.evaluate("() => window.frontdeskWidget.sessionId")
    assert session_id
    # No bot turn was spent: nothing stored, and Rasa has heard nothing.
    assert await gateway.app[STORE].history(session_id) == []
    assert await _user_events(rasa_url, session_id) == []

    # A reload before typing: the same greeting, once.
    await page.reload()
    await expect(page.locator(".fd-panel")).to_be_visible()
    await expect(page.locator(".fd-greeting")).to_have_count(1)
    await expect(page.locator(".fd-quick-reply")).to_have_text(titles)

    # A topic is answered like the question it stands for.
    topic = screen["quick_replies"][0]
    await page.locator(".fd-quick-reply", has_text=topic["title"]).click()
    await expect(page.locator(".fd-msg-customer .fd-msg-text")).to_have_text([topic["title"]])
    answer = page.locator(".fd-msg-bot .fd-msg-text").first
    await expect(answer).to_be_visible(timeout=60_000)
    assert area_of(await answer.inner_text()) == "orders"
    assert await _user_events(rasa_url, session_id) == [topic["payload"]]

    # Reloading the conversation now: the greeting stays at the top, once; nothing repeats.
    shown = await page.locator(".fd-messages > li").evaluate_all(
        "els => els.filter(e => !e.classList.contains('fd-quick-replies')).map(e => e.className)"
    )
    await page.reload()
    await expect(page.locator(".fd-msg-bot").first).to_be_visible(timeout=20_000)
    await expect(page.locator(".fd-greeting")).to_have_count(1)
    again = await page.locator(".fd-messages > li").evaluate_all(
        "els => els.filter(e => !e.classList.contains('fd-quick-replies')).map(e => e.className)"
    )
    assert again == shown and again[0] == "fd-greeting"
    assert len(await _user_events(rasa_url, session_id)) == 1  # still the one question
    await context.close()
    assert errors == []


def test_a_greeting_file_with_a_mistake_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "greeting.yml").write_text("en:\n  text: Hi\n  buttons:\n    - title: Orders\n")
    with pytest.raises(ConfigError, match=r"greeting\.yml: en: each button needs a title and a"):
        load_greeting(tmp_path)
    (tmp_path / "greeting.yml").write_text("")
    assert load_greeting(tmp_path).for_language("en", "en") is None  # no greeting at all
