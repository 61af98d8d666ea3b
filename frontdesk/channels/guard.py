"""The Socket.IO server's door: limits per client address before a handshake, and frames that
are not Engine.IO answered without an error page or a traceback.

- `connection_guard` (an aiohttp middleware on the Socket.IO path) admits a new connection
  only while its client address has fewer than ADDRESS_MAX_CONNECTIONS open and a token of
  ADDRESS_CONNECTIONS_PER_SECOND left; otherwise it answers `429` with `Retry-After` and
  `{"error": {"code": "rate_limited", "message", "retry_after"}}`, before Engine.IO does any
  work. The client address is the peer, or the X-Forwarded-For client when the peer is one of
  TRUSTED_PROXIES (frontdesk.console.proxies); the request goes on with it as its `remote`.
- `GuardedServer` (the Socket.IO server) counts each address's open connections, from the
  Engine.IO connection to its end, whatever the transport; it reads WebSocket frames through
  `SafeWebSocket`, which closes a connection that sends a text frame that is no Engine.IO
  packet (empty, `"\\x00"`, an unknown packet type) with close code 1002 and the reason, as
  the JavaScript Engine.IO server does, instead of letting python-engineio raise (an HTTP 500
  page written into the WebSocket, and a traceback); and a packet python-socketio refuses
  (a binary attachment nobody announced, an unknown packet type) is dropped with a debug line;
  an event handler that finds its client gone (KeyError from its session or rooms: the
  client's last packets were the event and its leaving) ends quietly.
- A frame over the transport's limit (`frame_limit`) is refused by aiohttp with close code
  1009 ("message too big"); a packet under it but over `packet_limit` is not parsed, and is
  answered `message_too_long` (frontdesk.channels.packets).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import socketio
from aiohttp import WSCloseCode, web
from aiohttp.typedefs import Handler, Middleware
from engineio.async_drivers.aiohttp import WebSocket

from frontdesk.channels.coalesce import coalesce_writes
from frontdesk.channels.emitting import timed_poll
from frontdesk.channels.packets import LIFECYCLE
from frontdesk.channels.ratelimit import AddressLimiter
from frontdesk.console.proxies import TrustedProxies
from frontdesk.console.throttle import address_key

log = logging.getLogger(__name__)

SOCKETIO_PATH = "/socket.io/"
CLIENT_PACKETS = frozenset("123456")  # close, ping, pong, message, upgrade, noop
NOT_ENGINEIO = b"not an Engine.IO packet"
MIN_PACKET_LIMIT = 64 * 1024
MIN_FRAME_LIMIT = 1024 * 1024


def packet_limit(max_message_length: int) -> int:
    """Characters of a Socket.IO packet that are still read (JSON-decoded): room for a message
    of MAX_MESSAGE_LENGTH in any script, escaped, with its customData; a longer one is
    answered `message_too_long` unread."""
    return max(MIN_PACKET_LIMIT, max_message_length * 8)


def frame_limit(max_message_length: int) -> int:
    """Bytes of one WebSocket frame (or polling request) the transport takes at all; over it
    the connection is closed with 1009 (no client of frontdesk's widget gets near it: the
    widget sends at most 4,000 characters)."""
    return max(MIN_FRAME_LIMIT, packet_limit(max_message_length) * 4)


def client_key(request: Any) -> str:
    """The limits' key for a request's client (after connection_guard: the forwarded client
    when a trusted proxy sent it); an IPv6 client counts by its /64."""
    remote = request.remote if isinstance(request, web.BaseRequest) else None
    return address_key(remote)


def connection_guard(addresses: AddressLimiter, proxies: TrustedProxies) -> Middleware:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(SOCKETIO_PATH) or "sid" in request.query:
            return await handler(request)  # not a new connection
        if proxies.networks:
            client, _ = proxies.resolve(request.remote, request.headers)
            if client is not None and client != request.remote:
                request = request.clone(remote=client)
        retry_after = await addresses.admit(client_key(request))
        if retry_after:
            log.debug("socket.io: refused a connection from %s", request.remote)
            seconds = max(1, math.ceil(retry_after))
            error = {
                "code": "rate_limited",
                "message": f"Too many connections from your address; try again in {seconds} s.",
                "retry_after": round(retry_after, 2),
            }
            return web.json_response(
                {"error": error}, status=429, headers={"Retry-After": str(seconds)}
            )
        return await handler(request)

    return guard


class SafeWebSocket(WebSocket):  # type: ignore[misc]
    """python-engineio's aiohttp WebSocket, reading only frames that are Engine.IO packets, and
    writing the frames of one turn of the event loop in one system call (channels/coalesce)."""

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        self._sock = web.WebSocketResponse(max_msg_size=self.server.max_http_buffer_size)
        await self._sock.prepare(environ["aiohttp.request"])
        coalesce_writes(self._sock)
        self.environ = environ
        await self.handler(self)
        return self._sock

    async def send(self, message: str | bytes) -> None:
        if isinstance(message, str):
            await self._sock.send_str(message)
        else:
            await self._sock.send_bytes(message)

    async def wait(self) -> str | bytes:
        message = await self._sock.receive()
        data = message.data
        if isinstance(data, str):
            if data[:1] in CLIENT_PACKETS:
                return data
            log.debug("socket.io: closing a connection that sent %r", data[:40])
            await self._sock.close(code=WSCloseCode.PROTOCOL_ERROR, message=NOT_ENGINEIO)
            raise OSError(NOT_ENGINEIO.decode())
        if isinstance(data, bytes):
            return data
        raise OSError()  # closed, or over the frame limit (aiohttp closed it with 1009)


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]
    """The Socket.IO server, counting connections per client address (see the module)."""

    def __init__(self, addresses: AddressLimiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.addresses = addresses
        self.eio._async = {**self.eio._async, "websocket": SafeWebSocket}

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        self.addresses.opened(eio_sid, client_key(environ.get("aiohttp.request")))
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None:
            timed_poll(socket)  # no Task per packet sent (frontdesk.channels.emitting)
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any = None) -> None:
        self.addresses.closed(eio_sid)
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        """A handler that finds its client gone (its session or rooms raise KeyError, as
        when a browser's last packets are an event and its leaving) ends quietly."""
        try:
            return await super()._trigger_event(event, namespace, *args)
        except KeyError:
            sid = args[0] if args else None
            if event in LIFECYCLE or self.manager.is_connected(sid, namespace):
                raise
            log.debug("socket.io: %r ended: the client left meanwhile", event)
            return None

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:  # python-socketio's word for a packet out of place
            log.debug("socket.io: dropped a packet: %s", exc)
