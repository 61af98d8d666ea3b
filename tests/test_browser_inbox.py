"""The offline inbox and the agent alerts in the console, in headless Chromium: left messages are
their own list (never in the live queue), overdue ones marked; one is answered by e-mail from
the console (a real local SMTP server receives it); with the tab hidden a new waiting customer
counts in the title, plays the sound and raises a desktop notification (the Notification API
and WebAudio are stubbed in the page to record calls).

The gateway runs with real Redis and Rasa down: requests for a person go straight to the
handoff."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from frontdesk.app import ROUTER, SIO
from frontdesk.console.auth import hash_password
from frontdesk.console.keys import DESK
from tests.conftest import free_port
from tests.inbox_support import leave_message, smtp_server, text_part
from tests.support import WidgetClient, customer

pytestmark = pytest.mark.browser

TITLE = "frontdesk console"

# Recorders for the browser APIs the alerts use, and a document.hidden the test controls.
STUBS = """
(() => {
  const fd = { notifications: [], asked: 0, tones: 0, hidden: false };
  window.__fd = fd;
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => fd.hidden });
  Object.defineProperty(document, 'visibilityState', {
    configurable: true, get: () => (fd.hidden ? 'hidden' : 'visible')
  });
  class FakeNotification {
    constructor(title, options) {
      fd.notifications.push({ title: title, body: options && options.body });
    }
    close() {}
  }
  FakeNotification.permission = 'default';
  FakeNotification.requestPermission = () => {
    fd.asked += 1;
    FakeNotification.permission = 'granted';
    return Promise.resolve('granted');
  };
  window.Notification = FakeNotification;
  class FakeAudioContext {
    constructor() { this.state = 'running'; this.currentTime = 0; this.destination = {}; }
    createOscillator() {
      return { type: '', frequency: { setValueAtTime() {} }, connect() {},
               start() { fd.tones += 1; }, stop() {} };
    }
    createGain() {
      return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect() {} };
    }
    resume() { return Promise.resolve(); }
  }
  window.AudioContext = FakeAudioContext;
})();
"""


async def waits_for_a_person(server: TestServer, client: WidgetClient) -> None:
    router = server.app[ROUTER]
    await router.handoff.request(
        await router.conversations.get(client.session_id), "customer_asked"
    )


async def console(server: TestServer, browser: Browser) -> tuple[Page, list[str]]:
    name = f"maria{uuid.uuid4().hex[:6]}"
    fields = {"display_name": "Maria", "password_hash": hash_password("correct horse")}
    await server.app[DESK].agents.save(name, fields)
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.add_init_script(STUBS)
    await page.goto(str(server.make_url("/console")))
    await page.locator("#fc-username").fill(name)
    await page.locator("#fc-password").fill("correct horse")
    await page.locator(".fc-login-submit").click()
    await expect(page.locator(".fc-conn")).to_have_text("Connected")
    return page, errors


async def set_hidden(page: Page, hidden: bool) -> None:
    await page.evaluate(
        "h => { window.__fd.hidden = h; document.dispatchEvent(new Event('visibilitychange')); }",
        hidden,
    )


async def test_left_messages_are_their_own_list_and_a_hidden_tab_is_alerted(
    offline_gateway: Callable[..., Any], browser: Browser, people: list[WidgetClient]
) -> None:
    server: TestServer = await offline_gateway()
    first = await customer(server, people)
    on_time = await leave_message(server, first, "ana@example.com", "Where are my laces?")
    second = await customer(server, people)
    late = await leave_message(server, second, "bo@example.com", "Refund for order 77, please")
    promised = {"promised_reply_at": f"{time.time() - 3600:.3f}", "promised_reply_by": "9:00"}
    await server.app[DESK].cases.update(late["case_id"], promised)
    live = await customer(server, people)
    await waits_for_a_person(server, live)

    page, errors = await console(server, browser)
    inbox = page.locator(".fc-inbox .fc-inbox-item")
    await expect(inbox).to_have_count(2)
    # By promised reply time: the overdue one first, marked.
    await expect(inbox.nth(0)).to_have_attribute("data-case-id", late["case_id"])
    await expect(inbox.nth(0).locator(".fc-overdue")).to_have_text("Overdue")
    await expect(inbox.nth(0).locator(".fc-promise")).to_have_text("Reply by 9:00")
    await expect(inbox.nth(0).locator(".fc-q-customer")).to_have_text("bo@example.com")
    await expect(inbox.nth(0).locator(".fc-inbox-message")).to_have_text(
        "Refund for order 77, please"
    )
    await expect(inbox.nth(1)).to_have_attribute("data-case-id", on_time["case_id"])
    await expect(inbox.nth(1).locator(".fc-overdue")).to_have_count(0)
    await expect(page.locator(".fc-inbox-overdue")).to_have_text("1 overdue")
    await expect(page.locator(".fc-inbox-count")).to_have_text("2")
    await expect(page.locator(".fc-inbox-no-mail")).to_be_visible()  # no SMTP_URL here
    # The live queue holds the live customer only.
    queue = page.locator(".fc-queue .fc-queue-item")
    await expect(queue).to_have_count(1)
    live_case = (await server.app[DESK].queue_items())[0]["case_id"]
    await expect(queue.first).to_have_attribute("data-case-id", live_case)
    for case_id in (on_time["case_id"], late["case_id"]):
        await expect(page.locator(f'.fc-queue [data-case-id="{case_id}"]')).to_have_count(0)
    await expect(page.locator(".fc-queue-count")).to_have_text("1")

    # Notifications are asked for once, on the agent's first click.
    await page.locator(".fc-case-empty").click()
    await page.locator(".fc-case-empty").click()
    assert await page.evaluate("window.__fd.asked") == 1
    await expect(page).to_have_title(TITLE)

    # The tab goes to the background; a customer starts waiting.
    await set_hidden(page, True)
    newcomer = await customer(server, people)
    await waits_for_a_person(server, newcomer)
    await expect(page.locator(".fc-queue .fc-queue-item")).to_have_count(2)
    await expect(page).to_have_title(f"(1) {TITLE}")
    notes = await page.evaluate("window.__fd.notifications")
    assert [n["title"] for n in notes] == ["A customer is waiting"]
    assert await page.evaluate("window.__fd.tones") == 1
    another = await customer(server, people)
    await waits_for_a_person(server, another)
    await expect(page).to_have_title(f"(2) {TITLE}")
    # Back in front of it: the count goes.
    await set_hidden(page, False)
    await expect(page).to_have_title(TITLE)

    # Muted (and remembered): no sound, the notification still comes.
    await page.locator(".fc-sound").click()
    await expect(page.locator(".fc-sound")).to_have_text("Sound off")
    assert await page.evaluate("localStorage.getItem('frontdesk.console.muted')") == "1"
    tones = await page.evaluate("window.__fd.tones")
    await set_hidden(page, True)
    third = await customer(server, people)
    await waits_for_a_person(server, third)
    await expect(page).to_have_title(f"(1) {TITLE}")
    assert len(await page.evaluate("window.__fd.notifications")) == 3
    assert await page.evaluate("window.__fd.tones") == tones
    await set_hidden(page, False)

    # A customer writes in one of the agent's conversations while the tab is hidden.
    name = await page.evaluate("document.body.getAttribute('data-agent-name')")
    card = {"case_id": "c1", "conversation_id": "conv-c1", "state": "agent", "agent": name}
    card.update(customer_label="Ada", channel="widget", kind="live")
    view = {"card": card, "transcript": [], "earlier": [], "notes": [], "tags": []}
    await server.app[SIO].emit("case_assigned", {"case": view}, namespace="/agent")
    await expect(page.locator(".fc-case-customer")).to_have_text("Ada")
    await set_hidden(page, True)
    entry = {"seq": 7, "ts": time.time(), "role": "customer", "text": "Are you there?"}
    await server.app[SIO].emit(
        "case_message", {"case_id": "c1", "entry": entry}, namespace="/agent"
    )
    await expect(page).to_have_title(f"(1) {TITLE}")
    notes = await page.evaluate("window.__fd.notifications")
    assert notes[-1] == {"title": "New message from Ada", "body": "Are you there?"}
    await set_hidden(page, False)
    await expect(page).to_have_title(TITLE)

    await page.reload()
    await expect(page.locator(".fc-sound")).to_have_text("Sound off")
    assert errors == []


async def test_an_agent_answers_a_left_message_by_email_from_the_console(
    offline_gateway: Callable[..., Any], browser: Browser, people: list[WidgetClient]
) -> None:
    port = free_port()
    controller, smtp = smtp_server(port)
    try:
        server: TestServer = await offline_gateway(
            SMTP_URL=f"smtp://127.0.0.1:{port}?starttls=0", MAIL_FROM="help@shoes.example"
        )
        client = await customer(server, people)
        item = await leave_message(server, client, "ana@example.com", "Where are my laces?")
        page, errors = await console(server, browser)
        await expect(page.locator(".fc-inbox-no-mail")).to_be_hidden()
        await page.locator(f'.fc-inbox [data-case-id="{item["case_id"]}"] .fc-inbox-claim').click()

        card = page.locator(".fc-card")
        await expect(card.locator(".fc-left-message-text")).to_have_text("Where are my laces?")
        await expect(card.locator(".fc-left-message-email")).to_contain_text("ana@example.com")
        await expect(card.locator(".fc-left-message-promised")).to_contain_text("Reply by")
        await expect(page.locator(".fc-customer-presence")).to_have_text("On the page")
        await expect(page.locator(".fc-send")).to_have_text("Send e-mail")
        await expect(page.locator(".fc-close")).to_have_text("Close without e-mail…")
        await expect(page.locator(".fc-inbox .fc-inbox-item")).to_have_count(0)

        reply = page.locator(".fc-reply-text")
        await reply.click()
        await reply.type("Hello Ana,")
        await reply.press("Enter")  # a new line in an e-mail, not "send"
        await reply.type("they are on their way.")
        await expect(reply).to_have_value("Hello Ana,\nthey are on their way.")
        await reply.press("Control+Enter")
        await expect(page.locator(".fc-closed-banner")).to_contain_text(
            "Answer sent by e-mail to ana@example.com"
        )
        await expect(page.locator(".fc-mail-status")).to_contain_text("Answer e-mailed")
        (mail,) = smtp.received
        assert text_part(mail.message).startswith("Hello Ana,\nthey are on their way.")
        shown = await client.until_message(lambda m: m["sender"]["kind"] == "agent")
        assert shown["text"] == "Hello Ana,\nthey are on their way."
        assert client.received["agent_joined"] == []
        assert errors == []
    finally:
        controller.stop()
