"""WebSocket frames written in one turn of the event loop reach the socket in one write, in
order, and a close frame is never left behind (real aiohttp server and client on loopback)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdesk.channels.coalesce import CoalescedTransport, coalesce_writes


class Counting:
    """The real transport, counting the writes that reach it."""

    def __init__(self, transport: Any) -> None:
        self.transport, self.writes = transport, 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


async def test_frames_of_one_turn_go_out_in_one_write_in_order_then_the_close() -> None:
    counted: list[Counting] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        coalesce_writes(ws)
        coalesced = ws._writer.transport  # type: ignore[union-attr]
        assert isinstance(coalesced, CoalescedTransport)
        counting = Counting(coalesced._transport)
        coalesced._transport = counting  # type: ignore[assignment]
        counted.append(counting)
        await asyncio.gather(*(ws.send_str(f"frame {i}") for i in range(5)))  # one turn
        await asyncio.sleep(0.05)  # the next turns
        await ws.send_str("alone")
        await asyncio.sleep(0.05)
        await ws.send_str("last before closing")
        await ws.close(message=b"bye")  # at once, with the frame kept before it
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    async with (
        TestServer(app) as server,
        aiohttp.ClientSession() as http,
        http.ws_connect(server.make_url("/ws")) as ws,
    ):
        got = [message.data async for message in ws]
        assert ws.close_code == aiohttp.WSCloseCode.OK
    assert got == [*(f"frame {i}" for i in range(5)), "alone", "last before closing"]
    assert counted[0].writes == 3  # the five together, then "alone", then the last with the close
