"""A message left on WhatsApp, answered from the console in headless Chromium with no e-mail set
up: the composer sends it on WhatsApp (the customer's chat), and the message closes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from frontdesk.app import ROUTER
from frontdesk.mail.web import INBOX
from tests import test_whatsapp
from tests.fake_apis import FakeWhatsApp
from tests.test_browser_inbox import console
from tests.test_whatsapp import (
    body,
    customer_writes,
    message,
    new_wa_id,
    offers_to_leave,
    post_body,
    text_message,
    to,
)

pytestmark = pytest.mark.browser
fake_whatsapp = test_whatsapp.fake_whatsapp  # the fixtures: the fake Cloud API, the gateway
start_gateway = test_whatsapp.start_gateway


async def test_an_agent_answers_a_whatsapp_message_from_the_console_without_email(
    start_gateway: Callable[..., Any], fake_whatsapp: FakeWhatsApp, browser: Browser
) -> None:
    server: TestServer = await start_gateway()  # no SMTP_URL
    wa_id = new_wa_id()
    conv = f"whatsapp:{wa_id}"
    await customer_writes(server, fake_whatsapp, wa_id)
    router = server.app[ROUTER]
    await router.handoff.request(await router.conversations.get(conv), "customer_asked")
    await fake_whatsapp.wait_for("messages", where=lambda c: offers_to_leave(wa_id, c))
    tap = {"type": "button_reply", "button_reply": {"id": "/fd_leave_message", "title": "Leave"}}
    assert (await post_body(server, body(message(wa_id, "interactive", tap))))[0] == 200
    asked = len([c for c in fake_whatsapp.of("messages") if to(wa_id)(c)]) + 1
    await fake_whatsapp.wait_for("messages", asked, to(wa_id))
    left = "Where are my laces?"
    assert (await post_body(server, body(text_message(wa_id, left))))[0] == 200
    await fake_whatsapp.wait_for("messages", asked + 1, to(wa_id))
    [item] = [i for i in await server.app[INBOX].items() if i["conversation_id"] == conv]

    page, errors = await console(server, browser)
    await page.locator(f'.fc-inbox [data-case-id="{item["case_id"]}"] .fc-inbox-claim').click()
    await expect(page.locator(".fc-card .fc-left-message-text")).to_have_text(left)
    await expect(page.locator(".fc-mail-off")).to_be_hidden()  # e-mail is not needed here
    send = page.locator(".fc-send")
    await expect(send).to_have_text("Send on WhatsApp")
    reply = page.locator(".fc-reply-text")
    await reply.click()
    await reply.type("They are on their way.")
    await expect(send).to_be_enabled()
    await reply.press("Control+Enter")
    await expect(page.locator(".fc-closed-banner")).to_contain_text("Answer sent on WhatsApp")
    [sent] = await fake_whatsapp.wait_for(
        "messages", where=lambda c: to(wa_id)(c) and "their way" in str(c.body.get("text", ""))
    )
    assert sent.body["text"]["body"] == "Maria: They are on their way."
    assert errors == []
