"""The agent console in headless Chromium, with a customer in the widget on the demo page."""

from __future__ import annotations

import re
import uuid

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from frontdesk.console.auth import hash_password
from frontdesk.console.keys import DESK

pytestmark = [pytest.mark.rasa, pytest.mark.browser]

SCRIPT = "<script>alert(1)</script>"


async def _customer_says(page: Page, text: str) -> None:
    await page.locator(".fd-input").fill(text)
    await page.locator(".fd-send").click()
    await expect(page.locator(".fd-msg-customer .fd-msg-text").last).to_have_text(text)


async def test_agent_claims_reads_the_case_card_and_sends_a_canned_reply(
    gateway: TestServer, browser: Browser
) -> None:
    name = f"maria{uuid.uuid4().hex[:6]}"
    await gateway.app[DESK].agents.save(
        name, {"display_name": "Maria", "password_hash": hash_password("correct horse")}
    )
    dialogs: list[str] = []
    errors: list[str] = []

    customer = await browser.new_page()
    customer.on("dialog", lambda d: dialogs.append(d.message))
    customer.on("pageerror", lambda exc: errors.append(str(exc)))
    await customer.goto(str(gateway.make_url("/")))
    await customer.locator(".fd-launcher").click()
    await _customer_says(customer, "my order 1042 arrived damaged, the box was crushed")
    await expect(customer.locator(".fd-msg-bot .fd-msg-text", has_text="in line")).to_be_visible(
        timeout=60_000
    )
    await _customer_says(customer, SCRIPT)

    agent = await browser.new_page()
    agent.on("dialog", lambda d: dialogs.append(d.message))
    agent.on("pageerror", lambda exc: errors.append(str(exc)))
    # Without a session the console sends you to the login page.
    await agent.goto(str(gateway.make_url("/console")))
    await expect(agent).to_have_url(str(gateway.make_url("/console/login")) + "?next=/console/")
    await agent.locator("#fc-username").fill(name)
    await agent.locator("#fc-password").fill("wrong password")
    await agent.locator(".fc-login-submit").click()
    await expect(agent.locator(".fc-error")).to_contain_text("Wrong name or password")
    await agent.locator("#fc-password").fill("correct horse")
    await agent.locator(".fc-login-submit").click()
    await expect(agent.locator(".fc-agent-name")).to_contain_text("Maria")

    item = agent.locator(".fc-queue-item", has_text="Return")
    await expect(item.first).to_be_visible()
    await item.first.locator(".fc-claim").click()

    card = agent.locator(".fc-card")
    await expect(card.locator(".fc-captured-order-number")).to_contain_text("1042")
    await expect(card.locator(".fc-card-intent-name")).to_contain_text("returns/damaged_item")
    await expect(card.locator(".fc-confidence")).to_contain_text("%")
    transcript = agent.locator(".fc-transcript")
    await expect(transcript.locator(".fc-role-customer .fc-entry-text").first).to_contain_text(
        "my order 1042 arrived damaged"
    )
    await expect(transcript.locator(".fc-role-bot").first).to_be_visible()
    # What the customer typed is shown as text, never run.
    await expect(
        transcript.locator(".fc-role-customer .fc-entry-text", has_text=SCRIPT)
    ).to_have_count(1)
    assert await agent.locator(".fc-transcript script").count() == 0
    await expect(customer.locator(".fd-msg-text", has_text="Maria joined")).to_be_visible()

    await agent.locator(".fc-canned").select_option("damaged_package")
    await expect(agent.locator(".fc-reply-text")).to_have_value(re.compile(r"order 1042"))
    await agent.locator(".fc-send").click()

    shown = customer.locator(".fd-msg-agent .fd-msg-text")
    await expect(shown).to_contain_text("order 1042")
    await expect(customer.locator(".fd-msg-agent .fd-msg-sender")).to_contain_text("Maria")
    assert dialogs == [] and errors == []


async def test_console_forms_refuse_posts_without_the_csrf_token(gateway: TestServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            gateway.make_url("/console/login"),
            data={"username": "x", "password": "y"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 403
        async with http.post(gateway.make_url("/console/logout"), allow_redirects=False) as resp:
            assert resp.status == 403
        async with http.get(gateway.make_url("/console/"), allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"].startswith("/console/login")
