"""An agent's console never silently misses a customer message: when a case_message arrives
whose seq is more than one past the highest the console holds for the case, the console fetches
the case again and shows the message it missed, in order.

The lost case_message is the one issue 21's chaos test saw lost (a Socket.IO message between
gateway processes while Redis failed over): here the gateway's /agent namespace drops it, after
the customer's message was stored and acknowledged as usual. Rasa is down: once an agent has
the case, the customer's messages go to her and no bot is asked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from frontdesk.app import ROUTER, SIO
from tests.console_pages import agent_page
from tests.support import WidgetClient, customer, people  # noqa: F401 (people: a fixture)

pytestmark = pytest.mark.browser

LOST = "Hello? I sent the photo of the broken lid an hour ago."
NEXT = "It is order 1042, in case you need it."


def drop_case_message(
    server: TestServer, monkeypatch: pytest.MonkeyPatch, text: str
) -> asyncio.Event:
    """The /agent namespace loses the case_message of the customer entry `text` (once); the
    event is set when it did."""
    namespace = server.app[SIO].namespace_handlers["/agent"]
    emit = namespace.emit
    dropped = asyncio.Event()

    async def losing(event: str, data: Any = None, *args: Any, **kwargs: Any) -> None:
        entry = data.get("entry") if isinstance(data, dict) else None
        ours = isinstance(entry, dict) and entry.get("text") == text
        if event == "case_message" and ours and not dropped.is_set():
            dropped.set()
            return
        await emit(event, data, *args, **kwargs)

    monkeypatch.setattr(namespace, "emit", losing)
    return dropped


async def test_the_console_fetches_a_customer_message_whose_event_was_lost(
    offline_gateway: Callable[..., Any],
    browser: Browser,
    people: list[WidgetClient],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server: TestServer = await offline_gateway()
    page, _, errors = await agent_page(server, browser, 1280, 800)

    client = await customer(server, people)
    router = server.app[ROUTER]
    conversation = await router.conversations.get(client.session_id)
    await router.handoff.request(conversation, "customer_asked")
    await page.locator(".fc-queue-item .fc-claim").first.click()
    transcript = page.locator(".fc-transcript")
    said = transcript.locator(".fc-role-customer .fc-entry-text")
    ack = await client.say("Is anyone there?")
    assert ack["ok"], ack
    await expect(said.last).to_have_text("Is anyone there?")

    dropped = drop_case_message(server, monkeypatch, LOST)
    lost = await client.say(LOST)
    assert lost["ok"], lost  # stored and acknowledged: the customer thinks it arrived
    await dropped.wait()
    after = await client.say(NEXT)
    assert after["ok"], after

    # The console saw seq jump past the lost message: it fetched the case and shows both, in order.
    await expect(said).to_have_text(["Is anyone there?", LOST, NEXT])
    seqs = await transcript.locator(".fc-entry[data-seq]").evaluate_all(
        "nodes => nodes.map(n => Number(n.getAttribute('data-seq')))"
    )
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
    assert int(lost["seq"]) in seqs and int(after["seq"]) in seqs
    assert errors == []
