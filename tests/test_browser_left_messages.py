"""Left messages in the console, in headless Chromium: without SMTP the agent is told that e-mail
is not set up as soon as she opens a message to answer it (before writing anything), and a left
message is answered or closed without holding one of her chat slots, with or without SMTP; the
case card says the handoff reason once.

The gateway runs with real Redis and Rasa down (requests for a person go straight to the
handoff); with SMTP, a real local SMTP server (aiosmtpd) receives the answer."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from frontdesk.app import ROUTER
from frontdesk.console.keys import DESK
from tests.conftest import free_port
from tests.console_pages import agent_page, left_messages, really_click, waiting_customers
from tests.inbox_support import smtp_server, text_part
from tests.support import WidgetClient, customer

pytestmark = pytest.mark.browser


async def claim_the_live_chat(page: Page) -> None:
    """The agent takes the one waiting customer: her only chat slot is used."""
    await really_click(page, page.locator(".fc-queue .fc-claim").first)
    await expect(page.locator(".fc-case")).to_have_attribute("data-case-id", re.compile(".+"))
    await expect(page.locator(".fc-my-count")).to_have_text("1 / 1")


async def test_without_email_the_agent_is_told_before_writing_and_a_message_holds_no_slot(
    offline_gateway: Callable[..., Any], browser: Browser, people: list[WidgetClient]
) -> None:
    server: TestServer = await offline_gateway()  # no SMTP_URL
    cases = server.app[DESK].cases
    first, second = await left_messages(server, people, 2)
    await waiting_customers(server, people, 1)
    page, name, errors = await agent_page(server, browser, 1440, 900, capacity=1)
    await claim_the_live_chat(page)
    assert await cases.loads([name]) == {name: 1}

    # At capacity, she opens a left message: it opens, and before she writes a word she reads
    # that e-mail is not set up and what to do instead. There is no box to write in vain.
    item = page.locator(f'.fc-inbox [data-case-id="{first["case_id"]}"]')
    await really_click(page, item.locator(".fc-inbox-claim"))
    await expect(page.locator(".fc-card .fc-left-message-text")).to_have_text(first["message"])
    told = page.locator(".fc-mail-off")
    await expect(told).to_be_visible()
    await expect(told).to_contain_text("E-mail is not set up on this gateway")
    await expect(told).to_contain_text(f"Write to {first['email']} from your own mailbox")
    await expect(told).to_be_in_viewport()
    await expect(page.locator(".fc-reply-text")).to_be_hidden()
    await expect(page.locator(".fc-error")).to_be_hidden()
    # No slot taken: her count of chats, and her load as auto-assignment and waits see it.
    await expect(page.locator(".fc-my-count")).to_have_text("1 / 1")
    await expect(page.locator(".fc-my-cases .fc-my-case")).to_have_count(2)
    assert await cases.loads([name]) == {name: 1}
    assert await cases.agent_messages(name) == [first["case_id"]]

    # She answered from her own mailbox, and closes it.
    await expect(page.locator(".fc-close")).to_have_text("Close without e-mail…")
    await really_click(page, page.locator(".fc-close"))
    await really_click(page, page.locator(".fc-close-confirm"))
    await expect(page.locator(".fc-closed-banner")).to_contain_text(
        "You closed this message without an e-mail answer"
    )
    await expect(told).to_be_hidden()
    assert await cases.agent_messages(name) == []
    assert await cases.loads([name]) == {name: 1}
    assert (await cases.get(first["case_id"]))["state"] == "closed"

    # The next message opens too, still at capacity.
    item = page.locator(f'.fc-inbox [data-case-id="{second["case_id"]}"]')
    await really_click(page, item.locator(".fc-inbox-claim"))
    await expect(page.locator(".fc-card .fc-left-message-text")).to_have_text(second["message"])
    await expect(told).to_be_visible()
    await expect(page.locator(".fc-my-count")).to_have_text("1 / 1")
    assert errors == []


async def test_with_email_a_message_is_answered_at_full_capacity(
    offline_gateway: Callable[..., Any], browser: Browser, people: list[WidgetClient]
) -> None:
    port = free_port()
    controller, smtp = smtp_server(port)
    try:
        server: TestServer = await offline_gateway(
            SMTP_URL=f"smtp://127.0.0.1:{port}?starttls=0", MAIL_FROM="help@shoes.example"
        )
        cases = server.app[DESK].cases
        (message,) = await left_messages(server, people, 1)
        await waiting_customers(server, people, 1)
        page, name, errors = await agent_page(server, browser, 1920, 1080, capacity=1)
        await claim_the_live_chat(page)

        await really_click(page, page.locator(".fc-inbox .fc-inbox-claim"))
        await expect(page.locator(".fc-mail-off")).to_be_hidden()  # e-mail works here
        await expect(page.locator(".fc-send")).to_have_text("Send e-mail")
        await expect(page.locator(".fc-my-count")).to_have_text("1 / 1")
        reply = page.locator(".fc-reply-text")
        await really_click(page, reply)
        await reply.type("Hello, it left our warehouse today.")
        await really_click(page, page.locator(".fc-send"))
        await expect(page.locator(".fc-closed-banner")).to_contain_text(
            f"Answer sent by e-mail to {message['email']}"
        )
        await expect(page.locator(".fc-mail-status")).to_contain_text("Answer e-mailed")
        (mail,) = smtp.received
        assert text_part(mail.message).startswith("Hello, it left our warehouse today.")
        assert await cases.loads([name]) == {name: 1}
        assert await cases.agent_messages(name) == []
        assert errors == []
    finally:
        controller.stop()


async def test_the_case_card_says_the_handoff_reason_once(
    offline_gateway: Callable[..., Any], browser: Browser, people: list[WidgetClient]
) -> None:
    server: TestServer = await offline_gateway()
    router = server.app[ROUTER]
    (message,) = await left_messages(server, people, 1)
    client = await customer(server, people)
    await router.handoff.request(await router.conversations.get(client.session_id), "topic")
    page, _, errors = await agent_page(server, browser, 1440, 900)

    # A customer who asked for a person, then left a message.
    await really_click(page, page.locator(".fc-inbox .fc-inbox-claim"))
    card = page.locator(".fc-card")
    await expect(card.locator(".fc-card-reason-text")).to_have_text(
        "The customer asked for a person"
    )
    text = (await card.inner_text()).casefold()
    assert text.count("asked for a person") == 1, text
    await expect(card.locator(".fc-card-summary")).to_have_text(f"e-mail {message['email']}")

    # A topic that needs a person: the reason in flows/handoff.yml's words, once.
    await really_click(page, page.locator(".fc-queue .fc-claim"))
    await expect(card.locator(".fc-card-reason-text")).to_have_text("This topic needs a person")
    text = (await card.inner_text()).casefold()
    assert text.count("topic needs a person") == 1, text
    assert "topic\n" not in text and "handoff reason topic" not in text
    assert errors == []
