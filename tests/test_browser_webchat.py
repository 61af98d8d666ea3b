"""Stock Rasa web clients work unchanged: rasa-webchat 1.0.1 (npm, pinned in tests/webchat/)
in headless Chromium against the real gateway and Rasa, and a plain Socket.IO client that did
not ask for frontdesk's extras gets Rasa's exact message shapes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, Route, expect

import tests.test_handoff as handoff
from tests.bot_answers import response_of
from tests.support import EVENTS, Recorder

pytestmark = [pytest.mark.rasa, pytest.mark.browser]

agent_factory = handoff.agent_factory  # the real agent Socket.IO client, from the handoff tests

WEBCHAT = Path(__file__).parent / "webchat" / "node_modules" / "rasa-webchat"
SHOP = "http://shop.localhost"
BOT_ANSWER = 60_000  # ms: Rasa's answer, then rasa-webchat's own delay before showing it

SHOP_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Shop</title></head>
<body>
<h1>A shop that embeds stock rasa-webchat</h1>
<div id="webchat"></div>
<script src="/rasa-webchat.js"></script>
<script>
  window.WebChat.default(
    {
      initPayload: "/greet",
      socketUrl: SOCKET_URL,
      socketPath: "/socket.io/",
      customData: {language: "en"},
      title: "Shop help",
      params: {storage: "local"},
    },
    document.getElementById("webchat"),
  );
</script>
</body>
</html>
"""

RASA_QUICK_REPLY = {"content_type", "title", "payload"}


def _bundle() -> bytes:
    """rasa-webchat's standalone UMD bundle (it defines window.WebChat)."""
    path = WEBCHAT / "lib" / "index.js"
    if not path.is_file():
        pytest.fail("tests/webchat/node_modules is missing: run `make test`, which installs it")
    package = json.loads((WEBCHAT / "package.json").read_text())
    assert package["version"] == "1.0.1", package["version"]
    return path.read_bytes()


async def _serve_shop(page: Page, gateway: TestServer) -> None:
    """The shop's page on a made-up origin; its widget talks to the real gateway (CORS '*')."""
    html = SHOP_PAGE.replace("SOCKET_URL", json.dumps(str(gateway.make_url("/")).rstrip("/")))
    bundle = _bundle()

    async def fulfil(route: Route) -> None:
        path = route.request.url.removeprefix(SHOP)
        if path == "/":
            await route.fulfill(body=html, content_type="text/html; charset=utf-8")
        elif path == "/rasa-webchat.js":
            await route.fulfill(body=bundle, content_type="application/javascript")
        else:
            await route.fulfill(status=404, body="not found")

    await page.route(f"{SHOP}/**", fulfil)
    # The bundle's stylesheet asks for a web font; the test needs no internet.
    await page.route(
        "https://fonts.googleapis.com/**", lambda r: r.fulfill(content_type="text/css")
    )


async def _open(page: Page) -> None:
    """Open the widget if it is closed; it shows its launcher once it has connected."""
    launcher = page.locator(".rw-launcher")
    await expect(launcher).to_be_visible(timeout=20_000)
    if await launcher.locator(".rw-open-launcher").count():  # closed: the launcher opens it
        await launcher.click()
    await expect(launcher.locator(".rw-close-launcher")).to_be_visible()
    await expect(page.locator(".rw-conversation-container")).to_be_visible()


async def _say(page: Page, text: str) -> None:
    await page.locator(".rw-new-message").fill(text)
    await page.locator(".rw-send").click()
    await expect(page.locator(".rw-client .rw-message-text").last).to_have_text(text)


async def _bubbles(page: Page) -> list[list[str]]:
    """Every message bubble as the customer sees it: [who, text]."""
    shown: list[list[str]] = await page.locator(
        ".rw-messages-container .rw-message:not(.rw-typing-indication)"
    ).evaluate_all(
        """els => els.map(e => [
            e.querySelector('.rw-client') ? 'customer' : 'bot',
            (e.querySelector('.rw-message-text') || {innerText: ''}).innerText.trim(),
        ])"""
    )
    return shown


async def _session_id(page: Page) -> str:
    stored = await page.evaluate("() => localStorage.getItem('chat_session')")
    assert stored, "rasa-webchat keeps its session in localStorage (params.storage: 'local')"
    session_id = json.loads(stored)["session_id"]
    assert isinstance(session_id, str) and session_id
    return session_id


async def test_stock_rasa_webchat_talks_to_the_bot_and_an_agent_and_survives_a_reload(
    gateway: TestServer, browser: Browser, agent_factory: Callable[..., Any]
) -> None:
    maria = await agent_factory(f"maria{uuid.uuid4().hex[:6]}", "Maria")
    errors: list[str] = []
    context = await browser.new_context(permissions=["local-network-access"])
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await _serve_shop(page, gateway)
    await page.goto(f"{SHOP}/")
    await _open(page)

    bot = page.locator(".rw-response .rw-message-text")
    replies = page.locator(".rw-replies .rw-reply")
    # The init payload (/greet) brings the greeting, with its quick replies.
    await expect(bot.first).to_contain_text("frontdesk assistant", timeout=BOT_ANSWER)
    await expect(replies.filter(has_text="Payment methods")).to_have_count(1, timeout=BOT_ANSWER)
    assert "Where is my order?" in await replies.all_inner_texts()

    await _say(page, "What payment methods do you accept?")
    await expect(bot.last).to_contain_text("PayPal", timeout=BOT_ANSWER)
    assert response_of(await bot.last.inner_text()) == "utter_billing/payment_methods"
    await expect(replies).to_have_count(0)  # the greeting's buttons went with the next message

    # A FAQ answer with its quick-reply buttons; pressing one sends its payload to the bot.
    await _say(page, "My payment failed")
    await expect(bot.last).to_contain_text("Your basket is saved", timeout=BOT_ANSWER)
    await expect(replies).to_have_text(["Other ways to pay", "Talk to a person"])
    await replies.filter(has_text="Other ways to pay").click()
    await expect(page.locator(".rw-client .rw-message-text").last).to_have_text("Other ways to pay")
    await expect(bot.filter(has_text="American Express")).to_have_count(2, timeout=BOT_ANSWER)
    assert response_of(await bot.last.inner_text()) == "utter_billing/payment_methods"

    # Asking for a person queues the case; an agent claims it and answers in the page.
    session_id = await _session_id(page)
    await _say(page, "I want to talk to a person")
    await expect(bot.filter(has_text="in line")).to_have_count(1, timeout=BOT_ANSWER)
    case = await handoff._queued_case(maria, session_id)
    claimed = await maria.call("claim", {"case_id": case["case_id"]})
    assert claimed["ok"], claimed
    transcript = [e["text"] for e in claimed["case"]["transcript"] if e["role"] == "customer"]
    assert "I want to talk to a person" in transcript, transcript
    sent = await maria.call("reply", {"case_id": case["case_id"], "text": "Hi, this is Maria"})
    assert sent["ok"], sent
    await expect(bot.last).to_have_text("Hi, this is Maria", timeout=20_000)

    await expect(page.locator(".rw-typing-indication")).to_have_count(0)
    before = await _bubbles(page)
    assert [b for b in before if not b[1]] == [], before  # no empty bubble
    assert [b[1] for b in before if b[0] == "customer"] == [
        "What payment methods do you accept?",
        "My payment failed",
        "Other ways to pay",
        "I want to talk to a person",
    ]
    assert sum("frontdesk assistant" in text for _, text in before) == 1

    # A reload keeps the conversation (rasa-webchat's local storage) and the same session.
    await page.reload()
    await _open(page)
    await expect(page.locator(".rw-messages-container .rw-message-text")).to_have_count(
        len(before), timeout=20_000
    )
    assert await _bubbles(page) == before
    assert await _session_id(page) == session_id

    await _say(page, "Is order 1042 on its way?")
    relayed = await maria.until(
        "case_message",
        lambda m: m["entry"]["role"] == "customer" and "1042" in m["entry"]["text"],
    )
    assert relayed["case_id"] == case["case_id"] and relayed["entry"]["text"] == (
        "Is order 1042 on its way?"
    )
    answer = "Yes, it left our warehouse this morning."
    assert (await maria.call("reply", {"case_id": case["case_id"], "text": answer}))["ok"]
    await expect(bot.last).to_have_text(answer, timeout=20_000)
    await expect(page.locator(".rw-typing-indication")).to_have_count(0)
    after = await _bubbles(page)
    assert after == [*before, ["customer", "Is order 1042 on its way?"], ["bot", answer]], after
    assert errors == []


async def test_a_client_without_frontdesk_extras_gets_rasas_exact_shapes(
    gateway: TestServer,
) -> None:
    client = Recorder(EVENTS)
    try:
        await client.sio.connect(str(gateway.make_url("/")), transports=["websocket"])
        # Exactly what rasa-webchat sends on a first visit: no id yet, no `frontdesk` key (so
        # no extras). The server issues the id, as Rasa does; the client uses it from then on.
        await client.sio.emit("session_request", {"session_id": None})
        session_id = await client.next("session_confirm")
        assert isinstance(session_id, str) and len(session_id) == 32

        # rasa-webchat's empty init payload is ignored quietly, as Rasa does.
        empty = {"message": "", "customData": {"language": "en"}, "session_id": session_id}
        await client.sio.emit("user_uttered", empty)
        hello = {"message": "hello", "customData": {"language": "en"}, "session_id": session_id}
        await client.sio.emit("user_uttered", hello)
        greeting = await client.next("bot_uttered")  # events on one socket arrive in order
        assert set(greeting) == {"text", "quick_replies"}, greeting
        assert "frontdesk assistant" in greeting["text"]
        assert all(set(q) == RASA_QUICK_REPLY for q in greeting["quick_replies"]), greeting
        assert greeting["quick_replies"][2] == {
            "content_type": "text",
            "title": "Payment methods",
            "payload": "What payment methods do you accept?",
        }

        question = {**hello, "message": "What payment methods do you accept?"}
        await client.sio.emit("user_uttered", question)
        answer = await client.until("bot_uttered", lambda m: "PayPal" in m.get("text", ""))
        assert set(answer) == {"text"}, answer

        shapes = [set(m) for m in client.received["bot_uttered"]]
        assert all(s in ({"text"}, {"text", "quick_replies"}) for s in shapes), shapes
        assert set(client.received) == {"session_confirm", "bot_uttered"}, dict(client.received)
        assert client.received["bot_uttered"][0] == greeting  # nothing for the empty message
    finally:
        await client.close()
