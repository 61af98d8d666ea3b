"""The demo page in headless Chromium: type a question into the widget, see the answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from frontdesk.app import STORE, make_app
from tests.bot_answers import area_of
from tests.browser import ask_in_widget
from tests.conftest import make_settings
from tests.fake_rasa import FakeRasa, Turn
from tests.test_reports_outage import RedisServer, redis_server

pytestmark = [pytest.mark.browser]
__all__ = ["redis_server"]  # the fixture


@pytest.mark.rasa
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

    await ask_in_widget(page, "How do I get a copy of my invoice?")
    customer = page.locator(".fd-msg-customer .fd-msg-text")
    await expect(customer).to_have_text(["How do I get a copy of my invoice?"])
    bot = page.locator(".fd-msg-bot .fd-msg-text").first
    await expect(bot).to_be_visible(timeout=60_000)
    assert area_of(await bot.inner_text()) == "billing"

    await ask_in_widget(page, "I want to return my shoes")
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


async def _scripted_gateway(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    **overrides: str,
) -> tuple[FakeRasa, TestServer]:
    fake, url = fake_rasa
    for text in ("one", "two", "three", "mine", "typed earlier"):
        fake.script[text] = Turn("greet", texts=(f"re: {text}",))
    server: TestServer = await aiohttp_server(
        make_app(make_settings(redis_url, url, tmp_path, **overrides))
    )
    return fake, server


async def _shown(page: Page) -> list[list[str]]:
    shown: list[list[str]] = await page.locator(".fd-msg").evaluate_all(
        "els => els.map(e => [e.className.match(/fd-msg-(customer|bot|system|agent)/)[1],"
        " e.querySelector('.fd-msg-text').textContent])"
    )
    return shown


async def _open_widget(browser: Browser, server: TestServer) -> tuple[Page, list[str]]:
    """The demo page with the widget open and connected; the page's errors, as they come."""
    errors: list[str] = []
    page = await browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/")))
    await page.locator(".fd-launcher").click()
    await expect(page.locator(".fd-status")).not_to_be_empty(timeout=20_000)  # connected
    return page, errors


async def test_messages_sent_too_fast_wait_and_go_out_in_order(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    browser: Browser,
) -> None:
    _, server = await _scripted_gateway(
        fake_rasa,
        redis_url,
        tmp_path,
        aiohttp_server,
        RATE_LIMIT_PER_SECOND="2",
        RATE_LIMIT_BURST="1",
    )
    page, errors = await _open_widget(browser, server)
    for text in ("one", "two", "three"):
        await ask_in_widget(page, text)
    # The server refused some as too fast: the widget says so, keeps them, sends them later.
    await expect(page.locator(".fd-error-text")).to_have_text(
        "That was a lot at once \u2014 your message will go out in a few seconds."
    )
    await expect(page.locator(".fd-msg-customer[data-state=sent]")).to_have_count(3, timeout=15_000)
    await expect(page.locator(".fd-msg-bot")).to_have_count(3, timeout=15_000)
    await expect(page.locator(".fd-error")).to_be_hidden()
    stored = await server.app[STORE].history(
        await page.evaluate("() => window.frontdeskWidget.sessionId")
    )
    assert [e["text"] for e in stored if e["role"] == "customer"] == ["one", "two", "three"]
    assert await page.evaluate("() => localStorage.getItem('frontdesk_outbox')") == "[]"
    assert errors == []


async def test_a_browser_that_knows_only_the_session_id_gets_a_new_conversation(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    browser: Browser,
) -> None:
    _, server = await _scripted_gateway(fake_rasa, redis_url, tmp_path, aiohttp_server)
    owner = await browser.new_page()
    await owner.goto(str(server.make_url("/")))
    await owner.locator(".fd-launcher").click()
    await ask_in_widget(owner, "mine")
    await expect(owner.locator(".fd-msg-bot")).to_have_text(["re: mine"], timeout=20_000)
    session_id = await owner.evaluate("() => window.frontdeskWidget.sessionId")
    assert await owner.evaluate("() => localStorage.getItem('frontdesk_resume_token')")

    # Another browser with the owner's session id, a made-up token and a message it typed
    # earlier that never went out.
    outbox = [{"client_msg_id": "early-1", "session_id": session_id, "message": "typed earlier"}]
    other = await browser.new_context()
    await other.add_init_script(
        f"""localStorage.setItem('frontdesk_session_id', {json.dumps(session_id)});
        localStorage.setItem('frontdesk_resume_token', 'made-up');
        localStorage.setItem('frontdesk_outbox', {json.dumps(json.dumps(outbox))});"""
    )
    page = await other.new_page()
    await page.goto(str(server.make_url("/")))
    await page.locator(".fd-launcher").click()
    await expect(page.locator(".fd-msg-bot")).to_have_text(["re: typed earlier"], timeout=20_000)
    assert await _shown(page) == [["customer", "typed earlier"], ["bot", "re: typed earlier"]]
    new_id = await page.evaluate("() => window.frontdeskWidget.sessionId")
    assert new_id != session_id
    assert await page.evaluate("() => localStorage.getItem('frontdesk_session_id')") == new_id
    token = await page.evaluate("() => localStorage.getItem('frontdesk_resume_token')")
    assert token and token != "made-up"

    # The owner, reloading, still has exactly their own conversation.
    await owner.reload()
    if not await owner.locator(".fd-panel").is_visible():
        await owner.locator(".fd-launcher").click()
    await expect(owner.locator(".fd-msg")).to_have_count(2, timeout=20_000)
    assert await _shown(owner) == [["customer", "mine"], ["bot", "re: mine"]]
    assert await owner.evaluate("() => window.frontdeskWidget.sessionId") == session_id
    await other.close()


async def test_a_message_redis_could_not_take_is_sent_again_by_itself(
    fake_rasa: tuple[FakeRasa, str],
    redis_server: RedisServer,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    browser: Browser,
) -> None:
    """Redis away (a failover, a restart): the customer is told the message will go out by
    itself, it stays in the chat, and it goes out, once, when Redis is back."""
    _, server = await _scripted_gateway(fake_rasa, redis_server.url, tmp_path, aiohttp_server)
    page, errors = await _open_widget(browser, server)
    session_id = await page.evaluate("() => window.frontdeskWidget.sessionId")

    await asyncio.to_thread(redis_server.kill)
    await ask_in_widget(page, "typed earlier")
    await expect(page.locator(".fd-error-text")).to_have_text(
        "We couldn't save your message just now \u2014 we'll send it again in a moment,"
        " no need to retype it.",
        timeout=30_000,
    )
    mine = page.locator(".fd-msg-customer")
    await expect(mine).to_have_count(1)
    assert await mine.get_attribute("data-state") != "failed"

    await asyncio.to_thread(redis_server.start)  # back, with what it had (append-only file)
    await expect(page.locator(".fd-msg-customer[data-state=sent]")).to_have_count(1, timeout=30_000)
    await expect(page.locator(".fd-msg-bot .fd-msg-text").last).to_have_text(
        "re: typed earlier", timeout=30_000
    )
    await expect(page.locator(".fd-error")).to_be_hidden()
    stored = await server.app[STORE].history(session_id)
    assert [e["text"] for e in stored if e["role"] == "customer"] == ["typed earlier"]
    assert await page.evaluate("() => localStorage.getItem('frontdesk_outbox')") == "[]"
    assert errors == []
