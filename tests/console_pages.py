"""Helpers for the console's browser tests: a signed-in agent page at a given window size, a
real mouse click that checks nothing covers the target first, and a day's worth of customers
(a long live queue and several left messages)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Locator, Page, expect
from playwright.async_api import Error as PlaywrightError

from frontdesk.app import ROUTER
from frontdesk.console.auth import hash_password
from frontdesk.console.keys import DESK
from tests.inbox_support import leave_message
from tests.support import WidgetClient, customer

PASSWORD = "correct horse"

# Where a click at the element's centre would land: the point, whether it is in the window,
# and whether the topmost element there is the target (or inside it), not something over it.
CENTRE = """el => {
  const r = el.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const hit = document.elementFromPoint(x, y);
  return {
    x: x, y: y,
    inWindow: r.width > 0 && r.height > 0 && x >= 0 && y >= 0 && x < innerWidth && y < innerHeight,
    onTarget: !!hit && (hit === el || el.contains(hit)),
    hit: hit ? (hit.className || hit.tagName) : null,
  };
}"""


async def agent_page(
    server: TestServer,
    browser: Browser,
    width: int,
    height: int,
    capacity: int = 3,
    name: str = "",
) -> tuple[Page, str, list[str]]:
    """A console page signed in as a new agent (or `name`, created if new): the page, the
    agent's name and the page's errors."""
    name = name or f"maria{uuid.uuid4().hex[:6]}"
    desk = server.app[DESK]
    if not await desk.agents.get(name):
        fields = {
            "display_name": "Maria",
            "password_hash": hash_password(PASSWORD),
            "capacity": str(capacity),
        }
        await desk.agents.save(name, fields)
    page = await browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(str(server.make_url("/console")))
    await page.locator("#fc-username").fill(name)
    await page.locator("#fc-password").fill(PASSWORD)
    await page.locator(".fc-login-submit").click()
    await expect(page.locator(".fc-conn")).to_have_text("Connected")
    return page, name, errors


async def centre_of(target: Locator) -> dict[str, Any]:
    """Where the target's centre is. A live list (the queue) is drawn again when its data
    changes: a button replaced while being scrolled to is looked up again, as a person's eye
    would find it again."""
    for attempt in range(5):
        try:
            await target.scroll_into_view_if_needed(timeout=10_000)
            at: dict[str, Any] = await target.evaluate(CENTRE, timeout=10_000)
            return at
        except PlaywrightError as exc:
            if "not attached" not in str(exc) or attempt == 4:
                raise
    raise AssertionError("unreachable")


async def really_click(page: Page, target: Locator) -> None:
    """Scroll the target into view and click its centre with the mouse, after checking that the
    click would land on it (not on a panel or bar drawn over it)."""
    at = await centre_of(target)
    assert at["inWindow"] and at["onTarget"], at
    await page.mouse.click(at["x"], at["y"])


async def waiting_customers(server: TestServer, people: list[WidgetClient], count: int) -> None:
    """`count` customers in the live queue, each asking for a person."""
    router = server.app[ROUTER]
    for _ in range(count):
        client = await customer(server, people)
        conversation = await router.conversations.get(client.session_id)
        await router.handoff.request(conversation, "customer_asked")


async def left_messages(
    server: TestServer, people: list[WidgetClient], count: int
) -> list[dict[str, Any]]:
    """`count` customers who left a message for an answer by e-mail: their inbox items."""
    items = []
    for n in range(count):
        client = await customer(server, people)
        text = f"Message {n}: where is my order? It has been a week."
        items.append(await leave_message(server, client, f"customer{n}@example.com", text))
    return items
