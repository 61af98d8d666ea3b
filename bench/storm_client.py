"""A lean widget connection for bench/cluster_load.py's reconnect storm: Engine.IO 4 and
Socket.IO 5 spoken directly over one aiohttp websocket, with one reader task.

python-socketio's client spends several tasks and far more CPU per connection than the server
does: with 5,000 of them on this 2-core machine the load generators used more CPU than the
gateways they measured (62 % against 25 % + 27 %) and their own lag was in every figure. This
one does what the widget does on the wire and nothing else: connect, `session_request` with
an ack, `session_confirm`, `session_token`, `frontdesk_error`, and answering Engine.IO's pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp


class Refused(Exception):
    """The server refused the namespace connection, or the connection closed first."""


class StormSocket:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.lost = asyncio.Event()
        self.confirms: asyncio.Queue[str] = asyncio.Queue()
        self.acks: dict[int, asyncio.Future[list[Any]]] = {}
        self.token = ""
        self.errors: list[str] = []  # frontdesk_error codes
        self._next_ack = 0

    async def connect(self, base: str, timeout: float) -> None:
        """Open the websocket and the default namespace (raises on failure)."""
        await self.close()
        self.connected, self.lost = asyncio.Event(), asyncio.Event()
        url = base.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        async with asyncio.timeout(timeout):
            self.ws = await self.session.ws_connect(url, autoping=True)
            opened = await self.ws.receive_str()
            if not opened.startswith("0"):
                raise Refused(f"no Engine.IO open packet: {opened[:60]!r}")
            await self.ws.send_str("40")
            self.reader = asyncio.create_task(self._read())
            waiter = asyncio.ensure_future(self.connected.wait())
            gone = asyncio.ensure_future(self.lost.wait())
            try:
                await asyncio.wait({waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                gone.cancel()
            if not self.connected.is_set():
                raise Refused("the connection closed before the namespace opened")

    async def call(self, event: str, data: Any, timeout: float) -> list[Any]:
        """Emit with an ack; the ack's arguments."""
        assert self.ws is not None
        self._next_ack += 1
        ack_id = self._next_ack
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = future
        try:
            await self.ws.send_str(f"42{ack_id}" + json.dumps([event, data]))
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self.acks.pop(ack_id, None)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader
        self.ws = self.reader = None

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                self._packet(message.data)
                if message.data == "2":  # Engine.IO ping
                    await self.ws.send_str("3")
        except Exception:
            pass
        finally:
            self.lost.set()
            for future in self.acks.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection lost"))

    def _packet(self, text: str) -> None:
        if text.startswith("40"):
            self.connected.set()
        elif text.startswith("44"):
            self.lost.set()
        elif text.startswith("42"):
            name, *args = json.loads(text[2:])
            if name == "session_confirm":
                self.confirms.put_nowait(str(args[0]))
            elif name == "session_token":
                self.token = str(args[0]["token"])
            elif name == "frontdesk_error":
                self.errors.append(str(args[0].get("code")))
        elif text.startswith("43"):
            digits = len(text) - len(text[2:].lstrip("0123456789"))
            future = self.acks.get(int(text[2:digits]))
            if future is not None and not future.done():
                future.set_result(json.loads(text[digits:]))
