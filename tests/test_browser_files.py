"""Photos and files in headless Chromium: a customer sends a PNG and a PDF from the widget (a
renamed executable is refused with the reason, and nothing else is lost); the agent sees them
in the console (thumbnail, "Photos and files" on the card), downloads them through their signed
links, and sends a file back, which the widget shows. The scripted bot needs no model."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from frontdesk.app import make_app
from frontdesk.console.auth import hash_password
from frontdesk.console.keys import DESK
from tests.conftest import flows_copy, make_settings
from tests.fake_rasa import FakeRasa, Turn
from tests.files_support import EXE, PDF, png

pytestmark = [pytest.mark.browser]


async def _attach(page: Page, name: str, data: bytes, mime: str) -> None:
    await page.locator(".fd-file-input").set_input_files(
        {"name": name, "mimeType": mime, "buffer": data}
    )


async def test_files_travel_between_the_widget_and_the_console(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    browser: Browser,
) -> None:
    fake, url = fake_rasa
    fake.script["/human_handoff"] = Turn("human_handoff", 0.97, control={"event": "handoff"})
    fake.script["still there?"] = Turn("greet", texts=("Yes, still here.",))
    flows = flows_copy(tmp_path)
    (flows / "prechat.yml").write_text("enabled: true\nbefore_first_message: true\n")
    server: TestServer = await aiohttp_server(make_app(make_settings(redis_url, url, tmp_path)))
    errors: list[str] = []
    customer = await browser.new_page()
    customer.on("pageerror", lambda exc: errors.append(str(exc)))
    await customer.goto(str(server.make_url("/")))
    await customer.locator(".fd-launcher").click()

    # The pre-chat form comes first: the name and e-mail go to the agent's card.
    await customer.locator(".fd-prechat-name").fill("Ana Ruiz")
    await customer.locator(".fd-prechat-email").fill("ana@example.com")
    await customer.locator(".fd-prechat-submit").click()
    await expect(customer.locator(".fd-prechat")).to_be_hidden()
    await expect(customer.locator(".fd-input")).to_be_visible()

    photo = png(40, 30)
    await _attach(customer, "damage.png", photo, "image/png")
    thumb = customer.locator(".fd-msg-customer .fd-file-thumb")
    await expect(thumb).to_have_count(1)
    offer = customer.locator(".fd-msg-bot .fd-msg-text", has_text="kept your photo")
    await expect(offer).to_be_visible(timeout=20_000)

    await _attach(customer, "photo.png", EXE, "image/png")  # an executable renamed .png
    await expect(customer.locator(".fd-error-text")).to_contain_text("can't accept that file")
    await customer.locator(".fd-input").fill("still there?")
    await customer.locator(".fd-send").click()
    await expect(customer.locator(".fd-msg-bot .fd-msg-text").last).to_have_text(
        "Yes, still here.", timeout=20_000
    )
    await _attach(customer, "receipt.pdf", PDF, "application/pdf")
    await expect(customer.locator(".fd-msg-customer .fd-file-download")).to_have_text(
        "receipt.pdf", timeout=20_000
    )
    await expect(customer.locator(".fd-msg-customer")).to_have_count(3)  # the exe is not there
    await customer.locator(".fd-quick-reply", has_text="Talk to a person").last.click()
    await expect(customer.locator(".fd-queue")).to_be_visible(timeout=20_000)

    name = f"maria{uuid.uuid4().hex[:6]}"
    await server.app[DESK].agents.save(
        name, {"display_name": "Maria", "password_hash": hash_password("correct horse")}
    )
    agent = await browser.new_page()
    agent.on("pageerror", lambda exc: errors.append(str(exc)))
    await agent.goto(str(server.make_url("/console/login")))
    await agent.locator("#fc-username").fill(name)
    await agent.locator("#fc-password").fill("correct horse")
    await agent.locator(".fc-login-submit").click()
    await agent.locator(".fc-queue-item .fc-claim").first.click()
    card = agent.locator(".fc-card")
    await expect(card.locator(".fc-card-customer")).to_contain_text("Ana Ruiz")
    await expect(card.locator(".fc-card-customer")).to_contain_text("ana@example.com")
    await expect(card.locator(".fc-card-files .fc-file-thumb")).to_have_count(1)
    await expect(card.locator(".fc-card-files .fc-file-download")).to_contain_text("receipt.pdf")
    transcript = agent.locator(".fc-transcript")
    await expect(transcript.locator(".fc-file-thumb")).to_have_count(1)
    loaded = await transcript.locator(".fc-file-thumb").evaluate("img => img.naturalWidth")
    assert loaded == 40  # the thumbnail really loaded through its signed link

    href = await transcript.locator(".fc-file-download").get_attribute("href")
    assert href and href.startswith("/files/")
    response = await agent.request.get(str(server.make_url(href)))
    assert response.status == 200 and await response.body() == PDF
    assert response.headers["content-disposition"].startswith("attachment")
    tampered = href.replace("sig=", "sig=x")
    assert (await agent.request.get(str(server.make_url(tampered)))).status == 403

    # The agent sends a file back; the widget shows it.
    await agent.locator(".fc-file-input").set_input_files(
        {"name": "label.png", "mimeType": "image/png", "buffer": png(8, 8)}
    )
    await expect(transcript.locator(".fc-role-agent .fc-file-thumb")).to_have_count(1)
    await expect(customer.locator(".fd-msg-agent .fd-file-thumb")).to_have_count(1)
    assert errors == []
