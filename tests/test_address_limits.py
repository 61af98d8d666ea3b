"""Limits per client address (issue 20): a client that closes and reopens its connection, or
opens many, still has one address. Connections beyond the address's share are refused before
the handshake (429, `rate_limited`, Retry-After); messages and new conversations beyond it get
`rate_limited` acks; other addresses are not touched. The address is the socket's peer, or the
X-Forwarded-For client when the peer is a trusted proxy (frontdesk.channels.ratelimit)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer

from frontdesk.app import STORE, make_app
from frontdesk.channels.ratelimit import AddressLimiter, AddressLimits, Limits, Rate, RateLimiter
from frontdesk.config import load_settings
from frontdesk.errors import ConfigError
from frontdesk.keys import ADDRESSES
from tests.conftest import make_settings
from tests.fake_rasa import FakeRasa

# One token every 100 s: no refill within a test, however slow the machine.
SLOW = 0.01
QUIET = {"RATE_LIMIT_PER_SECOND": "100", "RATE_LIMIT_BURST": "100", "MAX_PENDING_TURNS": "0"}


def test_an_address_shares_one_message_bucket_across_its_connections() -> None:
    addresses = AddressLimiter(AddressLimits(0, Rate(), Rate(), Rate(per_second=1, burst=3)))
    limiter = RateLimiter(Limits(per_second=10, burst=10, max_pending_turns=0), addresses=addresses)
    limiter.bind("tab-1", "203.0.113.7")
    limiter.bind("tab-2", "203.0.113.7")
    limiter.bind("elsewhere", "198.51.100.1")
    assert [limiter.check("tab-1", "a", now=100.0) for _ in range(2)] == [0, 0]
    assert limiter.check("tab-2", "b", now=100.0) == 0  # a fresh connection, a new conversation
    assert limiter.check("tab-2", "b", now=100.0) == pytest.approx(1.0)  # the address's bucket
    assert limiter.check("elsewhere", "c", now=100.0) == 0
    limiter.unbind("tab-2")
    assert limiter.check("tab-2", "b", now=100.0) == 0  # unbound: its own limits only


def test_open_connections_and_new_ones_are_counted_per_address() -> None:
    limits = AddressLimits(2, Rate(per_second=1, burst=3), Rate(per_second=1, burst=1), Rate())
    addresses = AddressLimiter(limits)
    assert addresses.connect("a", now=100.0) == 0
    addresses.opened("eio-1", "a")
    assert addresses.connect("a", now=100.0) == 0
    addresses.opened("eio-2", "a")
    assert addresses.connect("a", now=100.0) > 0  # two open: the most
    assert addresses.connect("b", now=100.0) == 0
    addresses.closed("eio-1")
    addresses.closed("eio-1")  # a second close changes nothing
    assert addresses.open_connections("a") == 1
    assert addresses.connect("a", now=100.0) == 0  # the third token of the burst
    assert addresses.connect("a", now=100.0) == pytest.approx(1.0)  # none left: a second
    assert addresses.new_conversation("a", now=100.0) == 0
    assert addresses.new_conversation("a", now=100.0) == pytest.approx(1.0)


def test_the_settings_are_checked_and_the_defaults_fit_an_office() -> None:
    settings = load_settings({})
    assert settings.address_max_connections >= 100
    assert settings.address_message_burst >= 100
    with pytest.raises(ConfigError, match="ADDRESS_MESSAGES_PER_SECOND"):
        load_settings({"ADDRESS_MESSAGES_PER_SECOND": "fast"})
    with pytest.raises(ConfigError, match="ADDRESS_CONNECTION_BURST"):
        load_settings({"ADDRESS_CONNECTION_BURST": "0"})


# -- against the gateway ------------------------------------------------------------------------


@pytest.fixture
def start(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> Callable[..., Any]:
    async def start(**overrides: str) -> TestServer:
        settings = make_settings(redis_url, fake_rasa[1], tmp_path, **{**QUIET, **overrides})
        server: TestServer = await aiohttp_server(make_app(settings))
        return server

    return start


class Customer:
    """A Socket.IO client from a chosen loopback address (all of 127/8 is this machine)."""

    def __init__(self, server: TestServer, address: str = "127.0.0.1", **headers: str) -> None:
        self.url = str(server.make_url("/")).rstrip("/")
        self.address = address
        self.headers = headers
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
        )
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self.http)
        self.session_id = ""

    async def connect(self) -> None:
        await self.sio.connect(self.url, transports=["websocket"], headers=self.headers)

    async def open(self) -> Any:
        """session_request for a new conversation: None when it was opened (its id kept)."""
        confirmed: list[str] = []
        self.sio.on("session_confirm", confirmed.append)
        ack = await self.sio.call("session_request", {"frontdesk": 1}, timeout=10)
        if ack is None:
            assert confirmed
            self.session_id = confirmed[-1]
        return ack

    async def say(self, text: str) -> dict[str, Any]:
        message = {"message": text, "session_id": self.session_id}
        ack: dict[str, Any] = await self.sio.call("user_uttered", message, timeout=10)
        return ack

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        await self.http.close()


@pytest.fixture
async def customers() -> AsyncIterator[list[Customer]]:
    made: list[Customer] = []
    yield made
    for customer in made:
        await customer.close()


async def handshake(server: TestServer, **headers: str) -> aiohttp.ClientResponse:
    """A new connection's first request (Engine.IO over polling), as curl would make it."""
    async with aiohttp.ClientSession() as http:
        url = server.make_url("/socket.io/?EIO=4&transport=polling")
        async with http.get(url, headers=headers) as resp:
            await resp.read()
            return resp


async def test_connections_beyond_an_addresss_share_are_refused_before_the_handshake(
    start: Callable[..., Any], customers: list[Customer]
) -> None:
    server = await start(ADDRESS_MAX_CONNECTIONS="2")
    first, second, third = (Customer(server) for _ in range(3))
    customers.extend([first, second, third])
    await first.connect()
    await second.connect()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await third.connect()
    async with aiohttp.ClientSession() as http:
        url = server.make_url("/socket.io/?EIO=4&transport=polling")
        async with http.get(url) as resp:
            assert resp.status == 429
            assert int(resp.headers["Retry-After"]) >= 1
            error = (await resp.json())["error"]
    assert error["code"] == "rate_limited" and "Too many connections" in error["message"]
    # Another address is not touched; a connection closed is a place free again.
    elsewhere = Customer(server, "127.0.0.2")
    customers.append(elsewhere)
    await elsewhere.connect()
    assert await elsewhere.open() is None
    await first.sio.disconnect()
    addresses = server.app[ADDRESSES]
    while addresses.open_connections("127.0.0.1") > 1:  # the server sees the close
        await first.sio.sleep(0.01)
    await third.connect()
    assert await third.open() is None


async def test_new_connections_per_address_have_a_rate(start: Callable[..., Any]) -> None:
    server = await start(ADDRESS_CONNECTIONS_PER_SECOND=str(SLOW), ADDRESS_CONNECTION_BURST="3")
    statuses = [(await handshake(server)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert (await handshake(server)).status == 429


async def test_a_client_that_reconnects_keeps_its_addresss_message_budget(
    start: Callable[..., Any], customers: list[Customer]
) -> None:
    """Closing the connection and opening another one (a fresh connection, a new conversation)
    every two messages does not get past the address's bucket; another address still writes."""
    server = await start(ADDRESS_MESSAGES_PER_SECOND=str(SLOW), ADDRESS_MESSAGE_BURST="5")
    acks: list[dict[str, Any]] = []
    sessions = []
    for _ in range(4):
        dodger = Customer(server)
        customers.append(dodger)
        await dodger.connect()
        assert await dodger.open() is None
        sessions.append(dodger.session_id)
        acks += [await dodger.say(f"message {len(acks) + n}") for n in range(2)]
        await dodger.close()
    assert len(set(sessions)) == 4
    assert [ack["ok"] for ack in acks] == [True] * 5 + [False] * 3
    refused = acks[-1]["error"]
    assert refused["code"] == "rate_limited" and refused["retry_after"] > 0 and refused["message"]
    stored = [await server.app[STORE].history(s) for s in sessions]
    assert sum(len([e for e in h if e["role"] == "customer"]) for h in stored) == 5
    neighbour = Customer(server, "127.0.0.3")
    customers.append(neighbour)
    await neighbour.connect()
    assert await neighbour.open() is None
    assert (await neighbour.say("hello"))["ok"] is True


async def test_new_conversations_per_address_have_a_budget_and_a_resume_is_not_one(
    start: Callable[..., Any], customers: list[Customer]
) -> None:
    server = await start(ADDRESS_CONVERSATIONS_PER_SECOND=str(SLOW), ADDRESS_CONVERSATION_BURST="2")
    customer = Customer(server)
    customers.append(customer)
    await customer.connect()
    assert await customer.open() is None
    kept = customer.session_id
    assert await customer.open() is None
    refused = await customer.open()
    assert refused["ok"] is False and refused["error"]["code"] == "rate_limited"
    assert refused["error"]["retry_after"] > 0
    # A new connection from the address is refused a new conversation too, but still writes
    # in the one it has.
    other_tab = Customer(server)
    customers.append(other_tab)
    await other_tab.connect()
    assert (await other_tab.open())["error"]["code"] == "rate_limited"
    assert (await customer.say("still here"))["ok"] is True
    assert customer.session_id != kept


async def test_a_trusted_proxy_names_the_client_and_anyone_else_cannot(
    start: Callable[..., Any],
) -> None:
    server = await start(TRUSTED_PROXIES="127.0.0.1", ADDRESS_MAX_CONNECTIONS="1")
    limits = server.app[ADDRESSES]
    assert (await handshake(server, **{"X-Forwarded-For": "203.0.113.7"})).status == 200
    assert (await handshake(server, **{"X-Forwarded-For": "198.51.100.2"})).status == 200
    assert (await handshake(server, **{"X-Forwarded-For": "203.0.113.7"})).status == 429
    assert limits.open_connections("203.0.113.7") == 1
    assert limits.open_connections("127.0.0.1") == 0

    untrusted = await start(ADDRESS_MAX_CONNECTIONS="1")  # no TRUSTED_PROXIES
    assert (await handshake(untrusted, **{"X-Forwarded-For": "203.0.113.7"})).status == 200
    assert (await handshake(untrusted, **{"X-Forwarded-For": "198.51.100.2"})).status == 429
    assert untrusted.app[ADDRESSES].open_connections("127.0.0.1") == 1


async def test_rate_limit_zero_turns_the_address_limits_off_too(
    start: Callable[..., Any],
) -> None:
    server = await start(
        RATE_LIMIT_PER_SECOND="0", ADDRESS_MAX_CONNECTIONS="1", ADDRESS_CONNECTION_BURST="1"
    )
    assert [(await handshake(server)).status for _ in range(3)] == [200, 200, 200]
