"""The console at the window sizes agents use, in headless Chromium, on a busy day (a long live
queue, several left messages): every panel scrolls on its own and its last item takes a real
mouse click (nothing drawn over it) from 1280x720 to 2560x1440; at 375 px wide (a phone) the top
bar's controls sit side by side without overlapping and a left message can be answered.

The gateway runs with real Redis and Rasa down (the console needs no bot), without SMTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from tests.console_pages import (
    agent_page,
    centre_of,
    left_messages,
    really_click,
    waiting_customers,
)
from tests.support import WidgetClient

pytestmark = pytest.mark.browser

SIZES = ((1280, 720), (1440, 900), (1920, 1080), (2560, 1440))
WAITING, MESSAGES = 90, 6

# The boxes of the top bar's controls that are shown (brand, connection, links, sound, name,
# presence, log out) and how wide the page is drawn.
TOP_BAR = """() => {
  const boxes = [];
  for (const el of document.querySelectorAll(
      '.fc-topbar .fc-brand, .fc-topbar .fc-conn, .fc-topbar a, .fc-topbar button,'
      + ' .fc-topbar .fc-me, .fc-topbar select')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) {
      boxes.push({what: el.className || el.tagName, left: r.left, right: r.right,
                  top: r.top, bottom: r.bottom});
    }
  }
  return {boxes: boxes, pageWidth: document.documentElement.scrollWidth, window: innerWidth};
}"""


def overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a["what"] == b["what"] and a == b:
                continue
            apart = (
                a["right"] <= b["left"]
                or b["right"] <= a["left"]
                or a["bottom"] <= b["top"]
                or b["bottom"] <= a["top"]
            )
            contains = all(
                a[k] <= b[k] if k in ("left", "top") else a[k] >= b[k]
                for k in ("left", "top", "right", "bottom")
            )
            if not apart and not contains:  # .fc-me holds the name: a box in a box is fine
                found.append((a["what"], b["what"]))
    return found


async def titles_uncovered(page: Page) -> None:
    """Each panel's title, and the Messages panel's warning, are on top where they are drawn."""
    for title in await page.locator(".fc-panel-title").all():
        at = await centre_of(title)
        assert at["inWindow"] and at["onTarget"], at
    warning = page.locator(".fc-inbox-no-mail")
    await expect(warning).to_be_visible()
    at = await centre_of(warning)
    assert at["inWindow"] and at["onTarget"], at


async def test_every_panel_scrolls_on_its_own_and_its_last_item_takes_a_real_click(
    offline_gateway: Callable[..., Any], browser: Browser, people: list[WidgetClient]
) -> None:
    server: TestServer = await offline_gateway()
    await left_messages(server, people, MESSAGES)
    await waiting_customers(server, people, WAITING)
    name = ""
    for n, (width, height) in enumerate(SIZES):
        page, name, errors = await agent_page(
            server, browser, width, height, capacity=len(SIZES), name=name
        )
        queue = page.locator(".fc-queue .fc-queue-item")
        inbox = page.locator(".fc-inbox .fc-inbox-item")
        await expect(queue).to_have_count(WAITING - n)
        await expect(inbox).to_have_count(MESSAGES - n)
        await titles_uncovered(page)

        # The last left message: its Answer button, clicked with the mouse, opens it.
        last = inbox.last
        message = await last.locator(".fc-inbox-message").inner_text()
        await really_click(page, last.locator(".fc-inbox-claim"))
        await expect(page.locator(".fc-card .fc-left-message-text")).to_have_text(message)
        await expect(inbox).to_have_count(MESSAGES - n - 1)

        # The last waiting customer: Claim, clicked with the mouse, opens the chat, whose
        # reply box is there to be clicked too.
        last = queue.last
        case_id = await last.get_attribute("data-case-id")
        await really_click(page, last.locator(".fc-claim"))
        await expect(page.locator(".fc-case")).to_have_attribute("data-case-id", str(case_id))
        await really_click(page, page.locator(".fc-reply-text"))
        await expect(page.locator(".fc-reply-text")).to_be_focused()

        # The last of "My conversations" (chats, then the messages taken) opens on a click.
        mine = page.locator(".fc-my-cases .fc-my-case")
        await expect(mine).to_have_count(2 * (n + 1))
        last_mine = await mine.last.get_attribute("data-case-id")
        await really_click(page, mine.last.locator(".fc-my-case-open"))
        await expect(page.locator(".fc-case")).to_have_attribute("data-case-id", str(last_mine))
        await titles_uncovered(page)
        assert errors == [], (width, height, errors)
        await page.close()


async def test_at_375_px_the_top_bar_does_not_overlap_and_a_message_can_be_answered(
    offline_gateway: Callable[..., Any], browser: Browser, people: list[WidgetClient]
) -> None:
    server: TestServer = await offline_gateway()
    items = await left_messages(server, people, 3)
    await waiting_customers(server, people, 8)
    page, _, errors = await agent_page(server, browser, 375, 740)
    await expect(page.locator(".fc-inbox .fc-inbox-item")).to_have_count(3)

    bar = await page.evaluate(TOP_BAR)
    assert len(bar["boxes"]) >= 7, bar
    assert overlapping(bar["boxes"]) == [], bar
    assert all(b["left"] >= 0 and b["right"] <= 375 for b in bar["boxes"]), bar
    assert bar["pageWidth"] <= bar["window"], bar  # nothing runs off the side
    await really_click(page, page.locator(".fc-presence"))
    await really_click(page, page.locator(".fc-logout"))
    await expect(page.locator(".fc-login-submit")).to_be_visible()
    page, _, errors = await agent_page(server, browser, 375, 740)

    # The last message: Answer brings the message into view, with what to do without e-mail.
    last = page.locator(".fc-inbox .fc-inbox-item").last
    await really_click(page, last.locator(".fc-inbox-claim"))
    await expect(page.locator(".fc-card .fc-left-message-text")).to_have_text(items[-1]["message"])
    await expect(page.locator(".fc-mail-off")).to_be_in_viewport()
    await really_click(page, page.locator(".fc-close"))
    await really_click(page, page.locator(".fc-close-confirm"))
    await expect(page.locator(".fc-closed-banner")).to_contain_text("closed this message")

    # The reports pages' bar too.
    await page.goto(str(server.make_url("/console/reports")))
    bar = await page.evaluate(TOP_BAR)
    assert overlapping(bar["boxes"]) == [], bar
    assert bar["pageWidth"] <= bar["window"], bar
    assert errors == []
