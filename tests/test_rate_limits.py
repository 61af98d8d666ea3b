"""A client writing too fast is refused with `rate_limited` and a time to wait; nothing it sent
before is lost, and every message accepted is answered (frontdesk.channels.ratelimit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdesk.app import STORE, make_app
from frontdesk.channels.ratelimit import FLOOD_REFUSALS, SESSION_REQUESTS, Limits, RateLimiter
from tests.conftest import make_settings
from tests.fake_rasa import FakeRasa, Turn
from tests.support import EVENTS, Recorder, WidgetClient

# One token every 10 s: no refill within a test's burst, however slow the machine.
SLOW = {"RATE_LIMIT_PER_SECOND": "0.1", "RATE_LIMIT_BURST": "3", "MAX_PENDING_TURNS": "0"}


def test_buckets_refill_at_the_set_rate_and_a_refusal_takes_nothing() -> None:
    limiter = RateLimiter(Limits(per_second=2, burst=3, max_pending_turns=0))
    assert [limiter.check("tab", "chat", now=100.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.check("tab", "chat", now=100.0) == pytest.approx(0.5)
    assert limiter.check("tab", "chat", now=100.25) == pytest.approx(0.25)
    assert limiter.check("tab", "chat", now=100.5) == 0
    assert limiter.check("other-tab", "chat", now=100.5) == pytest.approx(0.5)  # per conversation
    assert limiter.check("tab", "new-chat", now=100.5) == pytest.approx(0.5)  # per connection
    assert limiter.check("other-tab", "new-chat", now=100.5) == 0


def test_session_requests_have_a_budget_per_connection() -> None:
    limiter = RateLimiter(SESSION_REQUESTS)
    burst = SESSION_REQUESTS.burst
    assert [limiter.check_connection("tab", now=100.0) for _ in range(burst)] == [0] * burst
    assert limiter.check_connection("tab", now=100.0) == pytest.approx(
        1 / SESSION_REQUESTS.per_second
    )
    assert limiter.check_connection("other-tab", now=100.0) == 0
    assert limiter.check_connection("tab", now=100.0 + 1 / SESSION_REQUESTS.per_second) == 0
    assert RateLimiter(Limits(per_second=0)).check_connection("tab", now=100.0) == 0  # off


class HeldRasa(FakeRasa):
    """The scripted bot, answering only once `release` is set (a bot that cannot keep up)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def webhook(self, request: web.Request) -> web.Response:
        await self.release.wait()
        return await super().webhook(request)


@pytest.fixture
def start(redis_url: str, tmp_path: Path, aiohttp_server: Callable[..., Any]) -> Callable[..., Any]:
    async def start(bot: FakeRasa, **overrides: str) -> TestServer:
        rasa: TestServer = await aiohttp_server(bot.app())
        url = str(rasa.make_url("")).rstrip("/")
        server: TestServer = await aiohttp_server(
            make_app(make_settings(redis_url, url, tmp_path, **overrides))
        )
        return server

    return start


@pytest.fixture
async def clients() -> AsyncIterator[list[Any]]:
    made: list[Any] = []
    yield made
    for client in made:
        await client.close()


def base(server: TestServer) -> str:
    return str(server.make_url("/")).rstrip("/")


async def answers(client: WidgetClient, seqs: list[int]) -> list[str]:
    """Every bot message received once the turns of these customer messages (by seq) have
    ended (`bot_typing {typing: false, in_reply_to}`; events on one socket arrive in order)."""
    ended: set[int] = set()
    while not set(seqs) <= ended:
        status = await client.next("bot_typing", 30)
        if not status["typing"]:
            ended.add(status["in_reply_to"])
    return [m["text"] for m in client.received["bot_uttered"]]


async def test_a_burst_beyond_the_limit_is_refused_and_every_accepted_message_is_answered(
    start: Callable[..., Any], clients: list[Any]
) -> None:
    bot = FakeRasa()
    server = await start(bot, **SLOW)
    customer = WidgetClient(base(server))
    clients.append(customer)
    await customer.connect()
    for n in range(1, 7):
        bot.script[f"question {n}"] = Turn("greet", texts=(f"answer #{n}",))

    acks = [await customer.say(f"question {n}", client_msg_id=f"m{n}") for n in range(1, 7)]
    accepted = [ack["seq"] for ack in acks if ack["ok"]]
    assert [ack["ok"] for ack in acks] == [True] * 3 + [False] * 3
    for n, ack in enumerate(acks[3:], start=4):
        assert ack["ok"] is False
        error = ack["error"]
        assert error["code"] == "rate_limited" and error["client_msg_id"] == f"m{n}"
        assert 0 < error["retry_after"] <= 10 and error["message"]
    assert customer.received["frontdesk_error"] == []  # the ack says it; no banner event

    # Each accepted message is answered; the refused ones were not stored.
    assert await answers(customer, accepted) == ["answer #1", "answer #2", "answer #3"]
    stored = await server.app[STORE].history(customer.session_id)
    assert [e["text"] for e in stored if e["role"] == "customer"] == [
        "question 1",
        "question 2",
        "question 3",
    ]


async def test_tabs_share_their_conversations_limit_and_a_connection_keeps_its_own(
    start: Callable[..., Any], clients: list[Any]
) -> None:
    server = await start(FakeRasa(), **SLOW)
    first = WidgetClient(base(server))
    second = WidgetClient(base(server), first.session_id)  # another tab, the same browser
    clients.extend([first, second])
    await first.connect()
    await second.connect()
    assert second.session_id == first.session_id
    for n in range(3):
        assert (await first.say(f"tab one {n}"))["ok"]
    ack = await second.say("tab two")
    assert ack["ok"] is False and ack["error"]["code"] == "rate_limited"

    # A connection that starts over in a new conversation keeps its connection's limit.
    await first.sio.emit("session_request", {"frontdesk": 1})
    fresh = await first.next("session_confirm")
    assert fresh != second.session_id
    assert first.session_id == fresh
    ack = await first.say("in a new conversation")
    assert ack["ok"] is False and ack["error"]["code"] == "rate_limited"


async def test_a_connection_that_keeps_sending_while_told_to_wait_is_closed(
    start: Callable[..., Any], clients: list[Any]
) -> None:
    server = await start(FakeRasa(), **SLOW)
    flooder = WidgetClient(base(server))
    clients.append(flooder)
    await flooder.connect()
    closed = asyncio.Event()
    flooder.sio.on("disconnect", lambda *_: closed.set())
    acks = [await flooder.say(f"m{n}") for n in range(3 + FLOOD_REFUSALS - 1)]
    assert sum(a["ok"] for a in acks) == 3 and flooder.sio.connected
    await flooder.sio.emit("user_uttered", {"message": "again", "session_id": flooder.session_id})
    await asyncio.wait_for(closed.wait(), 10)
    stored = await server.app[STORE].history(flooder.session_id)
    assert [e["text"] for e in stored if e["role"] == "customer"] == ["m0", "m1", "m2"]


async def test_a_conversation_waits_while_its_backlog_is_full(
    start: Callable[..., Any], clients: list[Any]
) -> None:
    bot = HeldRasa()
    server = await start(bot, RATE_LIMIT_PER_SECOND="0", MAX_PENDING_TURNS="2")
    customer = WidgetClient(base(server))
    clients.append(customer)
    await customer.connect()
    for n in range(1, 4):
        bot.script[f"q{n}"] = Turn("greet", texts=(f"a #{n}",))
    assert (await customer.say("q1"))["seq"] == 1
    assert (await customer.say("q2"))["seq"] == 2
    refused = await customer.say("q3", client_msg_id="third")
    assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
    assert refused["error"]["retry_after"] > 0

    bot.release.set()
    assert await answers(customer, [1, 2]) == ["a #1", "a #2"]
    # As frontdesk's widget does: the refused message is sent again after retry_after.
    for _ in range(10):
        ack = await customer.say("q3", client_msg_id="third")
        if ack["ok"]:
            break
        await asyncio.sleep(ack["error"]["retry_after"])
    assert ack["ok"] is True and ack["duplicate"] is False
    assert await answers(customer, [ack["seq"]]) == ["a #1", "a #2", "a #3"]


async def test_a_stock_client_is_told_in_a_bot_message_once(
    start: Callable[..., Any], clients: list[Any]
) -> None:
    bot = FakeRasa()
    server = await start(bot, **SLOW)
    stock = Recorder(EVENTS)
    clients.append(stock)
    await stock.sio.connect(base(server), transports=["websocket"])
    await stock.sio.emit("session_request", {"session_id": None})
    session_id = await stock.next("session_confirm")
    acks = [
        await stock.sio.call("user_uttered", {"message": f"m{n}", "session_id": session_id})
        for n in range(6)
    ]
    assert [a["ok"] for a in acks] == [True] * 3 + [False] * 3
    notices = [m for m in stock.received["bot_uttered"] if m["text"] == acks[3]["error"]["message"]]
    assert len(notices) == 1 and set(notices[0]) == {"text"}  # Rasa's shape


async def test_session_requests_beyond_a_connections_budget_are_refused_and_change_nothing(
    start: Callable[..., Any], clients: list[Any]
) -> None:
    """Each session_request opens (or resumes) a conversation; a client asking again and again
    on one connection is refused with `rate_limited` in the ack, and keeps the one it has."""
    server = await start(FakeRasa())  # the default limits
    customer = WidgetClient(base(server))
    clients.append(customer)
    await customer.connect()  # the connection's first session_request
    acks = []
    for _ in range(SESSION_REQUESTS.burst * 6):  # one refill a second: far faster than that
        ack = await customer.sio.call("session_request", {"frontdesk": 1}, timeout=10)
        acks.append(ack)
        if ack is not None:
            break
    refused = acks.pop()
    # The burst is taken whatever the machine's speed; accepted requests answer no ack value.
    assert len(acks) >= SESSION_REQUESTS.burst - 1 and set(acks) == {None}
    assert refused is not None and refused["ok"] is False
    error = refused["error"]
    assert error["code"] == "rate_limited" and error["message"]
    assert 0 < error["retry_after"] <= 1 / SESSION_REQUESTS.per_second
    # Nothing else happened: no new conversation, no banner, the connection keeps its own.
    opened = customer.received["session_confirm"]
    assert len(opened) == 1 + len(acks) and customer.session_id == opened[-1]
    assert customer.received["frontdesk_error"] == []
    ack = await customer.say("still here")
    assert ack["ok"] is True
    stored = await server.app[STORE].history(customer.session_id)
    assert [e["text"] for e in stored if e["role"] == "customer"] == ["still here"]
