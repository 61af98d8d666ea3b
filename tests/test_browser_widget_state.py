"""What a customer sees in the widget across a language switch and a reload, in headless
Chromium (scripted bot, no model): the place in line and its buttons follow the conversation's
language, also while waiting; a reload keeps the panel as it was and the "Did this answer your
question?" rows with their ratings; a photo sent without a caption shows as the photo; the
place in line and its buttons sit on their own rows; message times are the customer's own."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from frontdesk.app import STORE, make_app
from frontdesk.config import ROOT
from frontdesk.core.templates import Templates
from frontdesk.keys import WIDGET_CHANNEL
from tests.browser import ask_in_widget
from tests.conftest import make_settings
from tests.fake_rasa import FakeRasa, Turn
from tests.files_support import png

pytestmark = [pytest.mark.browser]

TEMPLATES = Templates(ROOT / "flows", "en")
SPANISH = "¿Cuánto tiempo falta para que me atiendan?"
RUSSIAN = "Сколько ещё ждать?"
INVOICE = "You can download every invoice under Account → Orders."
PAYMENT = "We accept cards, PayPal and bank transfer."


async def _scripted(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> tuple[FakeRasa, TestServer]:
    fake, url = fake_rasa
    fake.script["I want a person"] = Turn("human_handoff", 0.97, control={"event": "handoff"})
    fake.script[SPANISH] = Turn("greet", texts=("Sigues en la fila.",))
    fake.script[RUSSIAN] = Turn("greet", texts=("Вы всё ещё в очереди.",))
    fake.script["invoice please"] = Turn("billing", 0.95, "billing/invoice_copy", 0.9, (INVOICE,))
    fake.script["how can I pay"] = Turn("billing", 0.95, "billing/payment_methods", 0.9, (PAYMENT,))
    server: TestServer = await aiohttp_server(make_app(make_settings(redis_url, url, tmp_path)))
    return fake, server


async def _expect_banner_in(page: Page, server: TestServer, language: str) -> None:
    """The banner shows the server's own status of this customer, in `language`: its text
    and its buttons ("Leave a message", "Cancel my request": nobody is online)."""
    session_id = await page.evaluate("() => window.frontdeskWidget.sessionId")
    buttons = [
        TEMPLATES.render(language, k) for k in ("button_leave_message", "button_cancel_request")
    ]
    await expect(page.locator(".fd-queue-action")).to_have_text(buttons, timeout=20_000)
    waits = server.app[WIDGET_CHANNEL].waits
    (status,) = [s for s in await waits.statuses() if s.conversation_id == session_id]
    assert status.language == language
    await expect(page.locator(".fd-queue-text")).to_have_text(waits.payload(status)["text"])


async def test_the_place_in_line_follows_the_conversations_language(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    browser: Browser,
) -> None:
    _, server = await _scripted(fake_rasa, redis_url, tmp_path, aiohttp_server)
    errors: list[str] = []
    page = await browser.new_page(locale="en-US")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/")))
    await page.locator(".fd-launcher").click()
    await ask_in_widget(page, "I want a person")
    await _expect_banner_in(page, server, "en")

    # While waiting, the customer writes in Spanish: the widget, the banner and its buttons
    # switch at once, without waiting for the next change of the queue.
    await ask_in_widget(page, SPANISH)
    await expect(page.locator(".fd-msg-bot").last).to_have_text("Sigues en la fila.")
    await expect(page.locator(".fd-send")).to_have_text("Enviar")
    await _expect_banner_in(page, server, "es")

    await ask_in_widget(page, RUSSIAN)
    await expect(page.locator(".fd-msg-bot").last).to_have_text("Вы всё ещё в очереди.")
    await _expect_banner_in(page, server, "ru")

    # A reload while waiting shows the place in line in the conversation's language too.
    await page.reload()
    await expect(page.locator(".fd-panel")).to_be_visible()
    await _expect_banner_in(page, server, "ru")
    assert errors == []


async def test_a_reload_keeps_the_panel_and_the_rated_answers(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    browser: Browser,
) -> None:
    _, server = await _scripted(fake_rasa, redis_url, tmp_path, aiohttp_server)
    errors: list[str] = []
    page = await browser.new_page(locale="en-US")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/")))
    await page.locator(".fd-launcher").click()
    await ask_in_widget(page, "invoice please")
    await expect(page.locator(".fd-msg-bot .fd-msg-text")).to_have_text([INVOICE])
    await ask_in_widget(page, "how can I pay")
    await expect(page.locator(".fd-msg-bot .fd-msg-text")).to_have_text([INVOICE, PAYMENT])
    rows = page.locator(".fd-msg-bot .fd-feedback")
    await expect(rows).to_have_count(2)
    await rows.nth(0).locator(".fd-feedback-yes").click()
    await expect(rows.nth(0).locator(".fd-feedback-rating")).to_have_text("Yes")

    # Reload: the panel is still open, both rows are there, the rated one with its rating.
    await page.reload()
    await expect(page.locator(".fd-panel")).to_be_visible()
    await expect(page.locator(".fd-msg-bot .fd-msg-text")).to_have_text([INVOICE, PAYMENT])
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0).locator(".fd-feedback-rating")).to_have_text("Yes")
    await expect(rows.nth(0).locator("button")).to_have_count(0)
    await expect(rows.nth(1).locator("button")).to_have_text(["Yes", "No"])

    # The unrated one can still be rated after the reload; "No" offers a person.
    await rows.nth(1).locator(".fd-feedback-no").click()
    await expect(rows.nth(1).locator(".fd-feedback-rating")).to_have_text("No")
    offer = TEMPLATES.render("en", "answer_not_helpful")
    await expect(page.locator(".fd-msg-text", has_text=offer)).to_have_count(1)

    # Closed before a reload: closed after it.
    await page.locator(".fd-close").click()
    await page.reload()
    await expect(page.locator(".fd-launcher")).to_be_visible()
    await expect(page.locator(".fd-root")).to_have_attribute("data-fd-open", "false")
    await expect(page.locator(".fd-panel")).to_be_hidden()
    await page.locator(".fd-launcher").click()
    await expect(rows.nth(1).locator(".fd-feedback-rating")).to_have_text("No")
    assert errors == []


async def test_a_photo_the_place_in_line_and_times_read_well(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    browser: Browser,
) -> None:
    _, server = await _scripted(fake_rasa, redis_url, tmp_path, aiohttp_server)
    errors: list[str] = []
    context = await browser.new_context(locale="en-US", timezone_id="Asia/Tokyo")
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/")))
    await page.locator(".fd-launcher").click()
    await expect(page.locator(".fd-attach")).to_be_visible(timeout=20_000)

    # A photo without a caption shows as its thumbnail, not as "[broken_shoe.png]" too.
    await page.locator(".fd-file-input").set_input_files(
        {"name": "broken_shoe.png", "mimeType": "image/png", "buffer": png(40, 30)}
    )
    photo = page.locator(".fd-msg-customer").first
    await expect(photo.locator(".fd-file-thumb")).to_have_count(1)
    await expect(photo).to_have_attribute("data-state", "sent", timeout=20_000)
    await expect(photo.locator(".fd-msg-text")).to_have_count(0)

    # The place in line and its buttons: the text on its own, the buttons in a row below.
    await ask_in_widget(page, "I want a person")
    text = page.locator(".fd-queue-text")
    await expect(text).to_be_visible(timeout=20_000)
    text_box = await text.bounding_box()
    buttons = page.locator(".fd-queue-action")
    await expect(buttons).to_have_count(2)
    first, second = await buttons.nth(0).bounding_box(), await buttons.nth(1).bounding_box()
    assert text_box and first and second
    assert first["y"] >= text_box["y"] + text_box["height"]  # below the text, not after it
    assert second["x"] > first["x"] + first["width"]  # side by side, with a gap
    assert "\n" in await page.locator(".fd-queue").inner_text()

    # Times are the customer's own (Tokyo here), and the tooltip names the zone.
    session_id = await page.evaluate("() => window.frontdeskWidget.sessionId")
    (first_entry, *_) = await server.app[STORE].history(session_id)
    local = await page.evaluate(
        "ts => new Date(ts * 1000).toLocaleTimeString([], "
        "{hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Tokyo'})",
        first_entry["ts"],
    )
    time = photo.locator(".fd-time")
    await expect(time).to_have_attribute("data-time", local)
    await expect(time).to_have_attribute("title", re.compile(r"GMT\+9"))

    # After a reload the photo still shows as the photo alone.
    await page.reload()
    await expect(photo.locator(".fd-file-thumb")).to_have_count(1, timeout=20_000)
    await expect(photo.locator(".fd-msg-text")).to_have_count(0)
    await context.close()
    assert errors == []
