"""The search page in headless Chromium: a lead finds a Russian conversation by another form of
its words, narrows by language, sees the words found marked, and opens the transcript and case
card; a plain agent does not find a colleague's conversation."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from tests.search_support import PASSWORD, account, caught_up, clients, handed_to, say

__all__ = ["clients"]  # the fixture


async def _signed_in(server: TestServer, browser: Browser, name: str, role: str) -> Any:
    await account(server, name, role)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/console/login?next=/console/search")))
    await page.locator("#fc-username").fill(name)
    await page.locator("#fc-password").fill(PASSWORD)
    await page.locator(".fc-login-submit").click()
    await expect(page.locator(".fc-pages-title")).to_have_text("Search conversations")
    return page, errors


async def test_a_lead_finds_a_conversation_and_opens_it(
    gateway: TestServer, browser: Browser, clients: list[Any]
) -> None:
    russian = await say(gateway, clients, "Посылка пришла повреждённой, заказ 4410")
    english = await say(gateway, clients, "The parcel arrived damaged, order 4411")
    await handed_to(gateway, clients, "olga", russian, "Отправлю замену сегодня")
    await caught_up(gateway)
    page, errors = await _signed_in(gateway, browser, "lena", "lead")

    await page.locator(".fc-nav-search").click()  # the top bar links the page
    await page.locator(".fc-search-q").fill("посылки повреждена")
    await page.locator(".fc-search-go").click()
    hits = page.locator(".fc-search-hit")
    await expect(hits).to_have_count(1)
    hit = hits.first
    await expect(hit).to_have_attribute("data-conversation-id", russian.session_id)
    await expect(hit.locator("mark").first).to_have_text("Посылка")
    await expect(hit.locator(".fc-chip-lang")).to_have_text("Russian")
    await expect(hit.locator(".fc-chip-agent")).to_have_text("olga")
    await expect(hit.locator(".fc-chip-state")).to_have_text("With an agent")

    await page.locator(".fc-search-q").fill("4411")
    await page.locator(".fc-search-language").select_option("ru")
    await page.locator(".fc-search-go").click()
    await expect(page.locator(".fc-search-none")).to_be_visible()
    await page.locator(".fc-search-language").select_option("en")
    await page.locator(".fc-search-go").click()
    await expect(page.locator(".fc-search-hit")).to_have_count(1)
    await expect(page.locator(".fc-search-hit")).to_have_attribute(
        "data-conversation-id", english.session_id
    )

    await page.locator(".fc-search-q").fill("заказ")
    await page.locator(".fc-search-language").select_option("")
    await page.locator(".fc-search-go").click()
    await page.locator(".fc-search-open").first.click()
    await expect(page.locator(".fc-search-card-agent")).to_have_text("olga")
    await expect(page.locator(".fc-search-transcript")).to_contain_text("Отправлю замену сегодня")
    await expect(page.locator(".fc-search-transcript")).to_contain_text("заказ 4410")
    assert errors == []


async def test_a_plain_agent_does_not_find_a_colleagues_conversation(
    gateway: TestServer, browser: Browser, clients: list[Any]
) -> None:
    theirs = await say(gateway, clients, "my invoice is wrong")
    await handed_to(gateway, clients, "olga", theirs, "I will fix the invoice")
    await caught_up(gateway)
    page, _ = await _signed_in(gateway, browser, "maria", "agent")
    await page.locator(".fc-search-q").fill("invoice")
    await page.locator(".fc-search-go").click()
    await expect(page.locator(".fc-search-none")).to_contain_text("among those you may see")
