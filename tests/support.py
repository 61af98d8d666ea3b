"""Test helpers: a Socket.IO widget client that records what the server sends."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any

import pytest
import socketio

EVENTS = (
    "session_confirm",
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


class WidgetClient:
    """A customer's widget speaking the Rasa socketio protocol, as a real Socket.IO client."""

    def __init__(self, base_url: str, session_id: str | None = None) -> None:
        self.base_url = base_url
        self.session_id = session_id or uuid.uuid4().hex
        self.sio = socketio.AsyncClient(reconnection=False)
        self.queues: dict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.received: dict[str, list[Any]] = defaultdict(list)
        for name in EVENTS:
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Any:
        async def record(data: Any = None) -> None:
            self.received[name].append(data)
            await self.queues[name].put(data)

        return record

    async def connect(
        self, last_seq: int = 0, custom: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        await self.sio.connect(self.base_url, transports=["websocket"])
        request: dict[str, Any] = {"session_id": self.session_id, "last_seq": last_seq}
        if custom:
            request["customData"] = custom
        await self.sio.emit("session_request", request)
        confirmed = await self.next("session_confirm")
        assert confirmed == self.session_id
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
        return ack

    async def next(self, event: str, timeout: float = 60) -> Any:
        return await asyncio.wait_for(self.queues[event].get(), timeout)

    async def answer(self, timeout: float = 60) -> list[dict[str, Any]]:
        """The bot's reply to one message: the bot_uttered events before the end-of-turn
        `bot_typing {typing: false}` (events on one socket arrive in order)."""
        while True:
            status = await self.next("bot_typing", timeout)
            if not status["typing"]:
                break
        messages = []
        while not self.queues["bot_uttered"].empty():
            messages.append(self.queues["bot_uttered"].get_nowait())
        return messages

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


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
