"""The widget in headless Chromium through a handoff (scripted bot, no model): the place in
line with its actions stays in view while the customer waits, "Maria joined" is said once, and
the status line goes when a person takes the conversation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from frontdesk.app import make_app
from frontdesk.console.auth import hash_password, socket_token
from frontdesk.console.keys import DESK, SECRET
from tests.browser import ask_in_widget
from tests.conftest import make_settings
from tests.fake_rasa import FakeRasa, Turn
from tests.support import AgentClient

pytestmark = [pytest.mark.browser]


async def test_waiting_status_stays_and_the_agent_joins_once(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    browser: Browser,
) -> None:
    fake, url = fake_rasa
    fake.script["I want a person"] = Turn(
        "human_handoff", 0.97, texts=(), control={"event": "handoff"}
    )
    server: TestServer = await aiohttp_server(make_app(make_settings(redis_url, url, tmp_path)))
    errors: list[str] = []
    page = await browser.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(str(server.make_url("/")))
    await page.locator(".fd-launcher").click()

    await ask_in_widget(page, "I want a person")
    queue = page.locator(".fd-queue")
    await expect(queue).to_be_visible(timeout=20_000)
    actions = page.locator(".fd-queue-action")
    await expect(actions).to_have_text(["Leave a message", "Cancel my request"])  # nobody online
    await ask_in_widget(page, "hello?")  # typing something else keeps the actions in view
    await expect(page.locator(".fd-msg-bot").last).to_have_text("Could you rephrase that?")
    await expect(actions).to_have_text(["Leave a message", "Cancel my request"])

    await server.app[DESK].agents.save(
        "maria", {"display_name": "Maria", "password_hash": hash_password("pass-word")}
    )
    maria = AgentClient(
        str(server.make_url("/")).rstrip("/"), socket_token(server.app[SECRET], "maria")
    )
    await maria.connect()
    try:
        waiting = await maria.until("queue", lambda q: q["items"])
        claimed = await maria.call("claim", {"case_id": waiting["items"][0]["case_id"]})
        assert claimed["ok"], claimed
        await expect(queue).to_be_hidden(timeout=20_000)
        joined = page.locator(".fd-messages li", has_text="Maria joined")
        case_id = claimed["case"]["card"]["case_id"]
        # Once the agent's first reply (sent after the claim) is on screen, any second
        # "joined" notice (it came with the claim's own event) would be too.
        sent = await maria.call("reply", {"case_id": case_id, "text": "Hi, Maria here"})
        assert sent["ok"], sent
        await expect(page.locator(".fd-msg-agent").last).to_contain_text("Hi, Maria here")
        await expect(joined).to_have_count(1)
        closed = await maria.call("close", {"case_id": case_id})
        assert closed["ok"], closed
        await expect(page.locator(".fd-messages li", has_text="has closed")).to_have_count(1)
        await expect(page.locator(".fd-messages li", has_text="left the chat")).to_have_count(0)
    finally:
        await maria.close()
    assert errors == []
