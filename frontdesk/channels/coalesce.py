"""WebSocket frames written in one turn of the event loop, sent in one system call.

aiohttp writes every WebSocket frame to its socket at once: a `send` system call per frame. A
session's start sends about six frames to the new connection (the Engine.IO and Socket.IO
handshakes, `session_confirm`, the history, the widget's settings, the greeting), an agent's
console gets a frame for every message of each of its cases, and on this kind of machine the
system call is the biggest single cost of a frame (bench/connections.py --profile).
`coalesce_writes` gives a connection's frame writer a transport that keeps the frames of the
current turn and writes them together as the turn ends (`call_soon`): the same bytes in the same
order, a few microseconds later. A close frame goes out at once, with what was kept before it,
so nothing is left behind when the connection closes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

CLOSE = 0x88  # the first byte of a close frame (FIN + opcode 8; control frames are never split)


class CoalescedTransport:
    """The frame writer's view of the connection's transport (everything else passes through)."""

    __slots__ = ("_kept", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._kept: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._kept is None:
            self._kept = [data]
            self._loop.call_soon(self.flush)
        else:
            self._kept.append(data)
        if data[0] == CLOSE:
            self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        kept, self._kept = self._kept, None
        if not kept or self._transport.is_closing():
            return  # closed meanwhile: as a write to a closing transport, dropped
        self._transport.write(kept[0] if len(kept) == 1 else b"".join(kept))

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def coalesce_writes(response: web.WebSocketResponse) -> None:
    """After `prepare`: the response's frames go out a turn of the event loop at a time."""
    writer = getattr(response, "_writer", None)  # aiohttp's WebSocketWriter
    transport = getattr(writer, "transport", None)
    if writer is None or transport is None or isinstance(transport, CoalescedTransport):
        log.debug("websocket: frames written one by one (no writer to coalesce)")
        return
    writer.transport = CoalescedTransport(transport, asyncio.get_running_loop())
