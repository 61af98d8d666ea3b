"""The agent console's ES modules in headless Chromium: they load (JavaScript MIME type, under the
page's CSP) without any page or console error, every event name is spelled once (events.js),
payloads of an unexpected shape are logged and ignored, the customer is named by the server's
label, and case_updated refreshes an open case keeping the draft and the scroll position.

The gateway runs with real Redis and Rasa down (the console needs no bot); server events are
emitted straight from the gateway's Socket.IO server, so the console's side is tested alone."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, ConsoleMessage, Page, WebSocket, expect

from frontdesk.app import SIO
from frontdesk.console.auth import hash_password
from frontdesk.console.keys import DESK

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parent.parent / "frontdesk" / "console" / "static"
MODULES = sorted(p.name for p in STATIC.glob("*.js"))
JS_TYPES = ("text/javascript", "application/javascript")


class Watched:
    """A console page with everything that went wrong in it, and the frames it received."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.scripts: dict[str, str] = {}  # url path -> content type
        self.frames: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)
        page.on("response", self._response)
        page.on("websocket", self._websocket)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(f"console.error: {msg.text}")
        elif msg.type == "warning":
            self.warnings.append(msg.text)

    def _response(self, response: Any) -> None:
        path = response.url.split("?")[0]
        if "/console/static/" in path and path.endswith(".js"):
            self.scripts[path.rsplit("/", 1)[1]] = response.headers.get("content-type", "")
        if response.status >= 400:
            self.errors.append(f"HTTP {response.status}: {response.url}")

    def _websocket(self, ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: self.frames.append(str(payload)))

    async def until_frame(self, prefix: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not any(f.startswith(prefix) for f in self.frames):
            assert time.monotonic() < deadline, f"no frame {prefix!r} in {self.frames[:5]}"
            await asyncio.sleep(0.05)


async def _agent_page(server: TestServer, browser: Browser) -> tuple[Watched, str]:
    name = f"ada{uuid.uuid4().hex[:6]}"
    await server.app[DESK].agents.save(
        name, {"display_name": "Ada", "password_hash": hash_password("correct horse")}
    )
    page = await browser.new_page()
    watched = Watched(page)
    await page.goto(str(server.make_url("/console")))
    await page.locator("#fc-username").fill(name)
    await page.locator("#fc-password").fill("correct horse")
    await page.locator(".fc-login-submit").click()
    try:
        await expect(page.locator(".fc-agent-name")).to_have_text("Ada")
        await expect(page.locator(".fc-conn")).to_have_text("Connected")
        # on_connect ends with the team overview: hello, queue and my_cases came before it.
        await watched.until_frame('42/agent,["agents"')
    except AssertionError as exc:
        raise AssertionError(f"the console did not start: {watched.errors}") from exc
    return watched, name


async def _emit(server: TestServer, event: str, data: Any) -> None:
    await server.app[SIO].emit(event, data, namespace="/agent")


def _view(
    case_id: str, agent: str, label: str, customer: dict[str, str], entries: int = 60, **card: Any
) -> dict[str, Any]:
    now = time.time()
    return {
        "card": {
            "case_id": case_id,
            "conversation_id": f"conv-{case_id}",
            "state": "agent",
            "reason": "asked_for_person",
            "reason_detail": "Asked for a person",
            "summary": "Return for order 1042",
            "area": "returns",
            "intent": "returns/damaged_item",
            "confidence": 0.91,
            "captured": {"order_number": "1042"},
            "bot_answers": ["Sorry to hear that.", "Here is how returns work."],
            "language": "en",
            "channel": "widget",
            "channel_user": None,
            "page_url": "https://shop.example/orders",
            "customer": customer,
            "customer_label": label,
            "requested_at": now - 120,
            "joined_at": now - 60,
            "waited_seconds": 60.0,
            "agent": agent,
            "tags": [],
            **card,
        },
        "transcript": [
            {
                "seq": i,
                "ts": now - 100 + i,
                "role": "customer" if i % 2 else "bot",
                "text": f"message {i}",
            }
            for i in range(1, entries + 1)
        ],
        "earlier": [],
        "notes": [],
        "tags": [],
    }


def test_every_event_name_is_spelled_only_in_events_js() -> None:
    schema = (STATIC / "events.js").read_text()
    names = re.findall(r"^\s+[A-Z_]+: '([a-z_]+)'", schema, flags=re.MULTILINE)
    for event in (
        "hello",
        "queue",
        "my_cases",
        "agents",
        "case_assigned",
        "case_message",
        "customer_typing",
        "case_closed",
        "case_updated",
        "presence",
        "claim",
        "open_case",
        "reply",
        "note",
        "typing",
        "canned",
        "tags",
        "transfer",
        "close",
    ):
        assert event in names, f"{event} is not in events.js"
    for module in MODULES:
        source = (STATIC / module).read_text()
        assert not re.search(r"(inner|outer)HTML\s*=|insertAdjacentHTML", source), module
        if module == "events.js":
            continue
        for name in names:
            assert f"'{name}'" not in source and f'"{name}"' not in source, (module, name)


async def test_the_console_modules_load_without_errors(
    offline_gateway: Callable[..., Any], browser: Browser
) -> None:
    server: TestServer = await offline_gateway()
    async with aiohttp.ClientSession() as http:
        for module in MODULES:
            async with http.get(server.make_url(f"/console/static/{module}")) as resp:
                assert resp.status == 200, module
                assert resp.content_type in JS_TYPES, (module, resp.content_type)

    watched, _ = await _agent_page(server, browser)
    page = watched.page
    await expect(page.locator(".fc-case-empty")).to_be_visible()
    await expect(page.locator(".fc-queue-empty")).to_be_visible()
    # hello filled the canned replies: the modules are wired to the socket.
    assert await page.locator(".fc-canned option").count() > 1
    # Every module was fetched (none is left over), each as JavaScript.
    assert sorted(watched.scripts) == MODULES
    assert all(t.split(";")[0].strip() in JS_TYPES for t in watched.scripts.values())
    assert watched.errors == []


async def test_server_events_labels_and_case_updated(
    offline_gateway: Callable[..., Any], browser: Browser
) -> None:
    server: TestServer = await offline_gateway()
    watched, name = await _agent_page(server, browser)
    page = watched.page

    # Payloads of an unexpected shape are logged and ignored; nothing throws.
    malformed: list[tuple[str, Any]] = [
        ("hello", None),
        ("hello", "hi"),
        ("queue", None),
        ("queue", {"items": "none"}),
        ("queue", [1, 2]),
        ("my_cases", {"items": None}),
        ("agents", 42),
        ("case_assigned", {"case": "c1"}),
        ("case_assigned", {"case": {"card": {}}}),
        ("case_message", {"case_id": "c1"}),
        ("case_message", {"case_id": None, "entry": {}}),
        ("customer_typing", {}),
        ("case_closed", []),
        ("case_updated", {"case": None}),
        ("case_updated", {"case": {"card": "x"}}),
        ("case_updated", {}),
    ]
    for event, data in malformed:
        await _emit(server, event, data)
    # Odd items inside well-formed payloads are skipped.
    await _emit(server, "agents", {"items": [None, 7, {"name": 5}]})
    await _emit(server, "my_cases", {"items": [None, 7, "x"]})
    await _emit(server, "case_message", {"case_id": "zz", "entry": {"seq": "x", "role": 5}})
    await _emit(
        server,
        "queue",
        {
            "items": [
                None,
                3,
                "x",
                {
                    "case_id": "q1",
                    "customer": "Visitor 3f9a2c",
                    "requested_at": time.time() - 30,
                    "waited_seconds": 30,
                    "channel": "telegram",
                    "reason": "asked_for_person",
                },
                {
                    "case_id": "q2",
                    "customer": None,
                    "requested_at": time.time() - 5,
                    "waited_seconds": 5,
                    "channel": "widget",
                },
            ]
        },
    )
    queue = page.locator(".fc-queue")
    await expect(queue.locator('[data-case-id="q1"] .fc-q-customer')).to_have_text("Visitor 3f9a2c")
    await expect(queue.locator('[data-case-id="q2"] .fc-q-customer')).to_have_text("Visitor")
    assert len([w for w in watched.warnings if "unexpected payload" in w]) == len(malformed)

    # An assigned case is named by the card's label when no details are known.
    await _emit(server, "case_assigned", {"case": _view("c1", name, "Visitor abc123", {})})
    await expect(page.locator(".fc-case-customer")).to_have_text("Visitor abc123")
    await expect(page.locator(".fc-notice")).to_have_text(
        "New conversation assigned: Visitor abc123"
    )
    await expect(page.locator(".fc-card-customer .fc-field-value")).to_have_text("Visitor abc123")
    my = page.locator(".fc-my-cases")
    await expect(my.locator('[data-case-id="c1"] .fc-my-customer')).to_have_text("Visitor abc123")
    await expect(page.locator(".fc-transcript .fc-entry")).to_have_count(60)
    await _emit(
        server,
        "my_cases",
        {
            "items": [
                {
                    "case_id": "c1",
                    "customer": "Visitor abc123",
                    "channel": "widget",
                    "area": "returns",
                    "state": "agent",
                },
                {
                    "case_id": "c2",
                    "customer": "Bob",
                    "channel": "telegram",
                    "area": "returns",
                    "state": "agent",
                },
            ]
        },
    )
    await expect(my.locator('[data-case-id="c2"] .fc-my-customer')).to_have_text("Bob")

    # The agent is typing a reply, reading back in the transcript, with the bot answers open.
    await page.locator(".fc-reply-text").fill("Half-written answer")
    await page.locator(".fc-bot-answers-summary").click()
    await page.locator(".fc-transcript").evaluate("t => { t.scrollTop = 100; }")
    await page.wait_for_function("document.querySelector('.fc-transcript').scrollTop === 100")
    await asyncio.sleep(0.2)  # the scroll event has run: the transcript no longer follows

    updated = _view(
        "c1",
        name,
        "Ada Lovelace",
        {"name": "Ada Lovelace"},
        entries=61,
        summary="Wants a refund now",
        area="billing",
    )
    await _emit(server, "case_updated", {"case": updated})
    await expect(page.locator(".fc-case-customer")).to_have_text("Ada Lovelace")
    await expect(page.locator(".fc-card-summary")).to_have_text("Wants a refund now")
    await expect(page.locator(".fc-card-customer .fc-field-value")).to_have_text("Ada Lovelace")
    row = my.locator('[data-case-id="c1"]')
    await expect(row.locator(".fc-my-customer")).to_have_text("Ada Lovelace")
    await expect(row.locator(".fc-my-meta")).to_contain_text("Billing")
    await expect(page.locator(".fc-transcript .fc-entry")).to_have_count(61)
    await expect(page.locator(".fc-reply-text")).to_have_value("Half-written answer")
    assert await page.locator(".fc-transcript").evaluate("t => t.scrollTop") == 100
    assert await page.locator(".fc-bot-answers").evaluate("d => d.open")

    # A case in "my conversations" that is not open: only its row changes.
    await _emit(
        server,
        "case_updated",
        {"case": _view("c2", name, "Grace Hopper", {"name": "Grace Hopper"}, channel="telegram")},
    )
    await expect(my.locator('[data-case-id="c2"] .fc-my-customer')).to_have_text("Grace Hopper")
    await expect(page.locator(".fc-case-customer")).to_have_text("Ada Lovelace")
    # A case this console does not show: ignored.
    await _emit(server, "case_updated", {"case": _view("c9", "someone", "Zed", {})})
    await asyncio.sleep(0.3)
    await expect(my.locator(".fc-my-case")).to_have_count(2)

    assert "Anonymous visitor" not in await page.locator("body").inner_text()
    await expect(page.locator(".fc-conn")).to_have_text("Connected")
    assert watched.errors == []
