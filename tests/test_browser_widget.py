"""The demo page in headless Chromium: type a question into the widget, see the answer."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from tests.bot_answers import area_of

pytestmark = [pytest.mark.rasa, pytest.mark.browser]


async def _ask(page: Page, question: str) -> None:
    await page.locator(".fd-input").fill(question)
    await page.locator(".fd-send").click()


async def test_demo_page_widget_answers_and_keeps_history(
    gateway: TestServer, browser: Browser
) -> None:
    errors: list[str] = []
    page = await browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(gateway.make_url("/")))
    # One <script> tag embeds the widget.
    scripts = await page.locator("script[src*='frontdesk-widget.js']").count()
    assert scripts == 1
    await page.locator(".fd-launcher").click()
    await expect(page.locator(".fd-panel")).to_be_visible()

    await _ask(page, "How do I get a copy of my invoice?")
    customer = page.locator(".fd-msg-customer .fd-msg-text")
    await expect(customer).to_have_text(["How do I get a copy of my invoice?"])
    bot = page.locator(".fd-msg-bot .fd-msg-text").first
    await expect(bot).to_be_visible(timeout=60_000)
    assert area_of(await bot.inner_text()) == "billing"

    await _ask(page, "I want to return my shoes")
    await expect(page.locator(".fd-quick-reply").first).to_be_visible(timeout=60_000)
    returns_answer = page.locator(".fd-msg-bot .fd-msg-text").last
    assert area_of(await returns_answer.inner_text()) == "returns"
    before = await page.locator(".fd-msg").evaluate_all(
        "els => els.map(e => [e.dataset.seq, e.querySelector('.fd-msg-text').textContent])"
    )

    # Reload: the same conversation comes back from the server, nothing duplicated.
    await page.reload()
    if not await page.locator(".fd-panel").is_visible():
        await page.locator(".fd-launcher").click()
    await expect(page.locator(".fd-msg")).to_have_count(len(before), timeout=20_000)
    after = await page.locator(".fd-msg").evaluate_all(
        "els => els.map(e => [e.dataset.seq, e.querySelector('.fd-msg-text').textContent])"
    )
    assert after == before
    seqs = [seq for seq, _ in after]
    assert len(set(seqs)) == len(seqs) and all(seqs)
    assert errors == []
