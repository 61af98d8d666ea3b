"""A conversation belongs to whoever opened it: knowing a session id is not enough to read it,
hear it or write in it (frontdesk.channels.resume). Real Redis, real Socket.IO clients, a
scripted bot."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from frontdesk.app import ROUTER, STORE, make_app
from frontdesk.channels.resume import SessionAccess
from frontdesk.console.keys import SECRET
from tests.conftest import make_settings
from tests.fake_rasa import FakeRasa, Turn
from tests.support import EVENTS, Recorder, WidgetClient

IDENTITY_SECRET = "shop-backend-identity-secret-1234"
ISSUED = re.compile(r"^[0-9a-f]{32}$")


def said(text: str) -> Turn:
    return Turn("greet", texts=(f"bot: {text}",))


@pytest.fixture
async def gateway_with_bot(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> AsyncIterator[tuple[FakeRasa, TestServer, Callable[..., WidgetClient]]]:
    fake, url = fake_rasa
    settings = make_settings(redis_url, url, tmp_path, IDENTITY_SECRET=IDENTITY_SECRET)
    server: TestServer = await aiohttp_server(make_app(settings))
    base = str(server.make_url("/")).rstrip("/")
    clients: list[WidgetClient] = []

    def client(session_id: str | None = None, token: str | None = None) -> WidgetClient:
        clients.append(WidgetClient(base, session_id, token))
        return clients[-1]

    yield fake, server, client
    for c in clients:
        await c.close()


Setup = tuple[FakeRasa, TestServer, Callable[..., WidgetClient]]


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text", "") for m in messages]


async def test_a_second_client_with_someones_session_id_gets_a_conversation_of_its_own(
    gateway_with_bot: Setup,
) -> None:
    fake, server, client = gateway_with_bot
    fake.script["my address is 1 Elm St"] = said("noted")
    fake.script["where is my parcel"] = said("on its way")
    fake.script["hi"] = said("hello")
    owner = client()
    await owner.connect()
    assert ISSUED.match(owner.session_id) and owner.token
    await owner.say("my address is 1 Elm St")
    await owner.answer()

    for token in ("", "forged-" + owner.token[7:], owner.token[:-1]):
        intruder = client(owner.session_id, token)
        history = await intruder.connect()
        assert intruder.session_id != owner.session_id and ISSUED.match(intruder.session_id)
        history.pop("greeting")  # the first screen of a new conversation, the same for all
        assert history == {"session_id": intruder.session_id, "last_seq": 0, "messages": []}
        # It cannot write as the owner either.
        ack = await intruder.sio.call(
            "user_uttered", {"message": "hi", "session_id": owner.session_id}, timeout=10
        )
        assert ack["ok"] is False and ack["error"]["code"] == "bad_request"

        # The owner's next turn ends before the intruder's own starts: had anything of the
        # owner's reached the intruder's socket, it would have arrived before its own answer.
        await owner.say("where is my parcel")
        await owner.answer()
        await intruder.say("hi")
        assert texts(await intruder.answer()) == ["bot: hello"]
        received = json.dumps(dict(intruder.received))
        assert (
            "Elm St" not in received and "parcel" not in received and "on its way" not in received
        )
        assert intruder.received["user_echo"] == []
        await intruder.close()

    # The owner's conversation holds only the owner's words.
    transcript = await server.app[STORE].history(owner.session_id)
    customer = [e["text"] for e in transcript if e["role"] == "customer"]
    assert customer == ["my address is 1 Elm St"] + ["where is my parcel"] * 3


async def test_the_right_token_resumes_the_conversation_with_its_history(
    gateway_with_bot: Setup,
) -> None:
    fake, _, client = gateway_with_bot
    fake.script["do you ship to Spain?"] = said("yes, in 3 days")
    first = client()
    await first.connect()
    await first.say("do you ship to Spain?")
    await first.answer()
    await first.close()

    again = client(first.session_id, first.token)  # the same browser after a reload
    history = await again.connect()
    assert again.session_id == first.session_id
    assert [(m["role"], m["text"]) for m in history["messages"]] == [
        ("customer", "do you ship to Spain?"),
        ("bot", "bot: yes, in 3 days"),
    ]
    # A reconnect that saw everything gets nothing twice.
    tab = client(first.session_id)  # the browser's storage keeps the token
    assert (await tab.connect(last_seq=history["last_seq"]))["messages"] == []
    assert tab.session_id == first.session_id


async def test_the_widget_never_opens_another_channels_conversation(
    gateway_with_bot: Setup,
) -> None:
    _, server, client = gateway_with_bot
    store = server.app[STORE]
    await server.app[ROUTER].open_conversation("telegram:123", "telegram", "en", {})
    await store.append("telegram:123", {"ts": 1.0, "role": "customer", "text": "my PIN is 4321"})
    # Not even with a token correctly signed for that id.
    signed = SessionAccess(server.app[SECRET]).token("telegram:123")
    for session_id, token in (("telegram:123", ""), ("telegram:123", signed), ("a" * 32, "")):
        widget = client(session_id, token)
        history = await widget.connect()
        assert ISSUED.match(widget.session_id), widget.session_id
        assert history["messages"] == []
        await widget.close()
    stock = Recorder(EVENTS)
    try:
        await stock.sio.connect(str(server.make_url("/")), transports=["websocket"])
        await stock.sio.emit("session_request", {"session_id": "telegram:123"})
        assert ISSUED.match(await stock.next("session_confirm"))
    finally:
        await stock.close()
    assert len(await store.history("telegram:123")) == 1


async def stock_session(base: str, session_id: str | None) -> tuple[Recorder, str]:
    """A stock Rasa client (rasa-webchat): no `frontdesk` key, no token."""
    stock = Recorder(EVENTS)
    await stock.sio.connect(base, transports=["websocket"])
    await stock.sio.emit("session_request", {"session_id": session_id})
    confirmed: str = await stock.next("session_confirm")
    return stock, confirmed


async def test_a_stock_client_continues_the_id_it_was_given_but_gets_no_history(
    gateway_with_bot: Setup,
) -> None:
    fake, server, client = gateway_with_bot
    fake.script["hello"] = said("hi there")
    fake.script["and returns?"] = said("30 days")
    base = str(server.make_url("/"))
    first, issued = await stock_session(base, None)
    try:
        assert ISSUED.match(issued)
        await first.sio.emit("user_uttered", {"message": "hello", "session_id": issued})
        assert await first.next("bot_uttered") == {"text": "bot: hi there"}
    finally:
        await first.close()

    # rasa-webchat after a reload: it sends the id the server gave it and continues.
    again, confirmed = await stock_session(base, issued)
    try:
        assert confirmed == issued
        await again.sio.emit("user_uttered", {"message": "and returns?", "session_id": issued})
        assert await again.next("bot_uttered") == {"text": "bot: 30 days"}
        assert set(again.received) == {"session_confirm", "bot_uttered"}  # no history, no token
    finally:
        await again.close()
    customer = [
        e["text"] for e in await server.app[STORE].history(issued) if e["role"] == "customer"
    ]
    assert customer == ["hello", "and returns?"]

    # frontdesk's widget, which knows no token for it, cannot take it over...
    widget = client(issued, "")
    assert (await widget.connect())["messages"] == [] and widget.session_id != issued
    # ...and a stock client cannot take over a conversation opened with a token.
    owner = client()
    await owner.connect()
    other, confirmed = await stock_session(base, owner.session_id)
    await other.close()
    assert confirmed != owner.session_id and ISSUED.match(confirmed)


def proof(user_id: str) -> dict[str, str]:
    digest = hmac.new(IDENTITY_SECRET.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return {"user_id": user_id, "user_hash": digest}


async def test_a_verified_shopper_has_one_conversation_on_every_device(
    gateway_with_bot: Setup,
) -> None:
    fake, server, client = gateway_with_bot
    fake.script["my order is late"] = said("let me check")
    laptop = client()
    history = await laptop.connect(custom={**proof("shopper-42"), "language": "en"})
    assert laptop.session_id.startswith("user:") and history["messages"] == []
    await laptop.say("my order is late", customData=proof("shopper-42"))
    await laptop.answer()

    phone = client()  # another device: its own storage, the same proof
    history = await phone.connect(custom=proof("shopper-42"))
    assert phone.session_id == laptop.session_id
    assert texts(history["messages"]) == ["my order is late", "bot: let me check"]
    conversation = await server.app[ROUTER].conversations.get(phone.session_id)
    assert conversation.details["customer_id"] == "shopper-42"
    assert "user_hash" not in json.dumps(fake.received)  # the proof never reaches the bot

    # A wrong hash, or another shopper's, is treated as anonymous.
    for custom in (
        {"user_id": "shopper-42", "user_hash": "0" * 64},
        {"user_id": "shopper-42", "user_hash": proof("shopper-7")["user_hash"]},
    ):
        stranger = client()
        history = await stranger.connect(custom=custom)
        assert ISSUED.match(stranger.session_id) and history["messages"] == []
    # After logging out, the token alone does not reopen the shopper's conversation.
    shared = client(laptop.session_id, laptop.token)
    history = await shared.connect()
    assert shared.session_id != laptop.session_id and history["messages"] == []
