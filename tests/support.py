"""Test helpers: a flaky store, and Socket.IO clients (a customer's widget, an agent's console)
that record what the server sends."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

import aiohttp
import pytest
import socketio

from frontdesk.app import ROUTER
from frontdesk.errors import StoreUnavailable


def refuse_to_store_once(monkeypatch: pytest.MonkeyPatch, app: Any, client_msg_id: str) -> None:
    """The store fails, as when Redis blinks, the first time it is asked to take in the customer
    message with this client_msg_id (stored with its turn in one step: the turn ledger's
    intake); every other call, and the next try of that one, works."""
    ledger = app[ROUTER].turns.ledger
    intake = ledger.intake
    refused = False

    async def flaky(
        conversation_id: str,
        entry: Mapping[str, Any],
        msg_id: str | None,
        turn: Mapping[str, Any],
    ) -> Any:
        nonlocal refused
        if msg_id == client_msg_id and not refused:
            refused = True
            raise StoreUnavailable("could not store the message: Connection refused (test)")
        return await intake(conversation_id, entry, msg_id, turn)

    monkeypatch.setattr(ledger, "intake", flaky)


EVENTS = (
    "session_confirm",
    "session_token",
    "history",
    "bot_uttered",
    "user_echo",
    "frontdesk_error",
    "bot_typing",
    "agent_typing",
    "agent_joined",
    "agent_left",
    "queue_status",
    "widget_config",
)


def _session_from(source: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))


class Recorder:
    """Keeps every event a Socket.IO client receives, in order, per event name."""

    def __init__(
        self, events: tuple[str, ...], namespace: str = "/", source: str | None = None
    ) -> None:
        """source: the local address to connect from (127.0.0.N: one client address each,
        as different customers behind a load balancer that hashes the address)."""
        session = None if source is None else functools.partial(_session_from, source)
        self.sio = socketio.AsyncClient(reconnection=False, http_session=session)
        self.queues: dict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.received: dict[str, list[Any]] = defaultdict(list)
        for name in events:
            self.sio.on(name, self._recorder(name), namespace=namespace)

    def _recorder(self, name: str) -> Any:
        async def record(data: Any = None) -> None:
            self.received[name].append(data)
            await self.queues[name].put(data)

        return record

    async def next(self, event: str, timeout: float = 60) -> Any:
        return await asyncio.wait_for(self.queues[event].get(), timeout)

    async def until(self, event: str, check: Any, timeout: float = 60) -> Any:
        """The first `event` whose payload satisfies check (earlier ones are skipped)."""

        async def wait() -> Any:
            while True:
                data = await self.queues[event].get()
                if check(data):
                    return data

        return await asyncio.wait_for(wait(), timeout)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


class WidgetClient(Recorder):
    """A customer's widget speaking the Rasa socketio protocol, as a real Socket.IO client.

    Like frontdesk's widget it keeps the session id and resume token the server gave it, in
    `storage`, which stands for the browser's localStorage: clients made with the same
    session_id (tabs, reloads) share it. With `token` given (even "") a client does not use
    that storage: it sends that token (none for ""), as someone else's browser would."""

    storage: ClassVar[dict[str, tuple[str, str]]] = {}  # id once held -> (session id, token)

    def __init__(
        self,
        base_url: str,
        session_id: str | None = None,
        token: str | None = None,
        source: str | None = None,
    ) -> None:
        self.base_url = base_url
        # Until confirmed, the id the client proposes (the server replaces one it did not issue).
        self.session_id = session_id or uuid.uuid4().hex
        self._key = self.session_id
        self.token = token or ""
        self._shared = token is None
        self.last_seq = 0  # seq of the last message this client sent
        super().__init__(EVENTS, source=source)

    def _recorder(self, name: str) -> Any:
        record = super()._recorder(name)
        if name not in ("session_confirm", "session_token"):
            return record

        async def adopt(data: Any = None) -> None:
            if name == "session_confirm" and isinstance(data, str):
                self.session_id = data
            elif name == "session_token" and isinstance(data, dict):
                self.token = data["token"]
                if self._shared:
                    kept = (data["session_id"], data["token"])
                    self.storage[self._key] = self.storage[data["session_id"]] = kept
            await record(data)

        return adopt

    async def connect(
        self, last_seq: int = 0, custom: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """session_request, then the server's session_confirm, session_token and history."""
        if self._shared and self._key in self.storage:
            self.session_id, self.token = self.storage[self._key]
        await self.sio.connect(self.base_url, transports=["websocket"])
        request: dict[str, Any] = {
            "session_id": self.session_id,
            "last_seq": last_seq,
            "frontdesk": 1,
        }
        if self.token:
            request["resume_token"] = self.token
        if custom:
            request["customData"] = custom
        await self.sio.emit("session_request", request)
        confirmed = await self.next("session_confirm")
        token = await self.next("session_token")
        assert confirmed == token["session_id"] == self.session_id
        history: dict[str, Any] = await self.next("history")
        return history

    async def say(
        self, text: str, client_msg_id: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        payload = {
            "message": text,
            "session_id": self.session_id,
            "client_msg_id": client_msg_id or uuid.uuid4().hex,
            **extra,
        }
        ack: dict[str, Any] = await self.sio.call("user_uttered", payload, timeout=10)
        if ack.get("ok"):
            self.last_seq = int(ack["seq"])
        return ack

    async def answer(self, timeout: float = 60) -> list[dict[str, Any]]:
        """The reply to the last message sent: the bot_uttered events before the end of its turn,
        `bot_typing {typing: false, in_reply_to: seq}` (events on one socket arrive in order)."""
        while True:
            status = await self.next("bot_typing", timeout)
            if not status["typing"] and status["in_reply_to"] == self.last_seq:
                break
        messages = []
        while not self.queues["bot_uttered"].empty():
            message = self.queues["bot_uttered"].get_nowait()
            if message["seq"] > self.last_seq:
                messages.append(message)
        return messages

    async def until_message(self, check: Any, timeout: float = 60) -> dict[str, Any]:
        """The first bot_uttered satisfying check (earlier ones are skipped)."""
        message: dict[str, Any] = await self.until("bot_uttered", check, timeout)
        return message


@pytest.fixture
async def widget_client_factory(gateway: Any) -> Any:
    clients: list[WidgetClient] = []

    def make(session_id: str | None = None) -> WidgetClient:
        client = WidgetClient(str(gateway.make_url("/")).rstrip("/"), session_id)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


AGENT_EVENTS = (
    "hello",
    "queue",
    "my_cases",
    "agents",
    "case_message",
    "customer_typing",
    "case_closed",
    "case_assigned",
)


class AgentClient(Recorder):
    """An agent's console connection (namespace /agent), as a real Socket.IO client."""

    def __init__(self, base_url: str, token: str, source: str | None = None) -> None:
        self.base_url = base_url
        self.token = token
        self.name = token.rsplit(":", 2)[0]
        super().__init__(AGENT_EVENTS, namespace="/agent", source=source)

    async def connect(self) -> dict[str, Any]:
        await self.sio.connect(
            self.base_url,
            namespaces=["/agent"],
            auth={"token": self.token},
            transports=["websocket"],
        )
        hello: dict[str, Any] = await self.next("hello")
        return hello

    async def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.sio.call(event, data, namespace="/agent", timeout=30)
        return result


@pytest.fixture
async def people() -> AsyncIterator[list[Any]]:
    """Clients a test opens, closed at its end."""
    clients: list[Any] = []
    yield clients
    for client in clients:
        await client.close()


async def customer(server: Any, people: list[Any]) -> WidgetClient:
    """A connected customer widget on a test server (closed with `people`)."""
    client = WidgetClient(str(server.make_url("/")).rstrip("/"))
    people.append(client)
    await client.connect()
    return client


async def handed_over(
    server: Any,
    agent: AgentClient,
    people: list[Any] | None = None,
    custom: dict[str, Any] | None = None,
    title: str = "Talk to a person",
) -> tuple[WidgetClient, str]:
    """A customer who asked for a person (the button `title`), and `agent` has her case;
    with `people`, she is closed at the test's end."""
    customer = WidgetClient(str(server.make_url("/")).rstrip("/"))
    if people is not None:
        people.append(customer)
    await customer.connect(custom=custom)
    await customer.say("/human_handoff", title=title)
    queue = await agent.until(
        "queue", lambda q: any(i["conversation_id"] == customer.session_id for i in q["items"])
    )
    case_id = next(
        i["case_id"] for i in queue["items"] if i["conversation_id"] == customer.session_id
    )
    claimed = await agent.call("claim", {"case_id": case_id})
    assert claimed["ok"], claimed
    await customer.next("agent_joined")
    return customer, case_id
