"""What the widget channel's event handlers share: the channel's parts, and its refusals.

WidgetChannel (frontdesk.channels.widget) is made of WidgetSession (a connection and its
conversation, frontdesk.channels.widget_session) and WidgetEvents (what a customer sends in
one, frontdesk.channels.widget_events), both built on WidgetBase here: the router, store and
templates, the rate limiters, and how a refusal is answered (an error ack; a `frontdesk_error`,
or to a stock Rasa client a bot message; or, over a rate limit, `rate_limited` in the ack only).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any

import socketio
from socketio.packet import EVENT

from frontdesk.channels.emitting import read_later
from frontdesk.channels.ratelimit import RateLimiter
from frontdesk.channels.safeguards import Safeguards
from frontdesk.channels.widget_files import WidgetFiles
from frontdesk.core.conversation import Conversations
from frontdesk.core.greeting import Greeting
from frontdesk.core.ratings import AnswerRatings
from frontdesk.core.router import Router
from frontdesk.core.templates import Templates
from frontdesk.core.waits import Waits
from frontdesk.store.base import Store

CHANNEL = "widget"
# Seconds after which the widget asks again when Redis could not take a message or a
# session_request (a failover takes a few seconds): the customer need not send it again.
STORE_RETRY_AFTER = 1
# When a gateway process dies its widgets all reconnect to the others within a second or two.
# Served all at once, thousands of session_requests share the Redis pool (each waits for a
# connection for every command in turn: all finish late, some after the pool's wait and fail
# with store_unavailable); served this many at a time, first come first served, each finishes
# in a few round trips (bench/cluster.py's reconnect storm).
SESSIONS_AT_ONCE = 32
# For a flows/ directory older than its `rate_limited` template (rendered with `seconds`).
RATE_LIMITED = (
    "You're sending messages faster than we can answer them. "
    "Please wait a few seconds before sending more."
)


class WidgetBase(socketio.AsyncNamespace):  # type: ignore[misc]
    """Socket.IO namespace for website customers: the state every handler uses."""

    def __init__(
        self,
        router: Router,
        conversations: Conversations,
        store: Store,
        templates: Templates,
        waits: Waits,
        max_message_length: int,
        history_limit: int,
        ratings: AnswerRatings,
        safeguards: Safeguards,
        namespace: str = "/",
        extras: WidgetFiles | None = None,
        greeting: Greeting | None = None,
    ) -> None:
        super().__init__(namespace)
        self.extras = extras  # photos and files, the pre-chat form (channels/widget_files.py)
        self.access = safeguards.access
        self.limiter = RateLimiter(safeguards.limits, router.pending_turns, safeguards.addresses)
        self.session_limiter = RateLimiter(safeguards.session_limits)  # session_request
        self.router = router
        self.conversations = conversations
        self.waits = waits
        self.ratings = ratings
        self.store = store
        self.templates = templates
        self.max_message_length = max_message_length
        self.history_limit = history_limit
        # The first screen (flows/greeting.yml), for frontdesk's widget.
        self.greeting = greeting or Greeting()
        # The conversations with a page open on this process, and their connections: the
        # abandonment rule asks (core/abandon.py) which waiting customers are still here.
        self.pages: dict[str, set[str]] = {}
        # session_requests served at once (SESSIONS_AT_ONCE above); the rest wait
        # their turn, first come first served.
        self.session_gate = asyncio.Semaphore(SESSIONS_AT_ONCE)

    async def _to_client(self, sid: str, event: str, data: Any) -> None:
        """One event to one client of this process (a handler's answer), straight to its
        Engine.IO socket: `emit(to=sid)` makes an asyncio Task per packet and, with
        SOCKETIO_REDIS, also publishes it to every gateway process, though only this one holds
        the connection. A client gone meanwhile gets nothing."""
        server = self.server
        eio_sid = server.manager.eio_sid_from_sid(sid, self.namespace)
        if eio_sid is not None:
            packet = server.packet_class(EVENT, namespace=self.namespace, data=[event, data])
            await server._send_packet(eio_sid, packet)

    def _signed(self, entry: Mapping[str, Any]) -> Mapping[str, Any]:
        """The entry with a signed link on its photo or file, made now (never stored)."""
        return self.extras.signed(entry) if self.extras is not None else entry

    def _text(self, session: Mapping[str, Any], key: str, **context: Any) -> str:
        language = session.get("language") or self.templates.default_language
        return self.templates.render(language, key, **context)

    def _slow_down(
        self, sid: str, session: Mapping[str, Any], retry_after: float, client_msg_id: Any = None
    ) -> dict[str, Any]:
        """The `rate_limited` error: `{code, message, retry_after}` (and the client's message
        id, when it sent one). The connection's next frame is read a moment later (at most
        MAX_READ_PAUSE): a client over a limit costs little while it keeps sending."""
        read_later(self.server, sid, self.namespace, retry_after)
        try:
            message = self._text(session, "rate_limited", seconds=math.ceil(retry_after))
        except KeyError:  # flows without the template
            message = RATE_LIMITED
        error: dict[str, Any] = {
            "code": "rate_limited",
            "message": message,
            "retry_after": round(retry_after, 2),
        }
        if isinstance(client_msg_id, str):
            error["client_msg_id"] = client_msg_id
        return error

    async def _error(
        self,
        sid: str,
        language: str | None,
        code: str,
        message: str | None,
        client_msg_id: Any = None,
        retry_after: float | None = None,
    ) -> dict[str, Any]:
        """The error in the ack, and as an event; `retry_after`: seconds after which the
        widget sends the same thing again by itself (the customer need not)."""
        if message is None:
            message = self.templates.render(language or self.templates.default_language, code)
        error: dict[str, Any] = {"code": code, "message": message}
        if isinstance(client_msg_id, str):
            error["client_msg_id"] = client_msg_id
        if retry_after is not None:
            error["retry_after"] = retry_after
        session = await self.get_session(sid)
        if session.get("session_id") and not session.get("extras"):
            # A stock Rasa client shows only bot messages: say what happened as one.
            await self.emit("bot_uttered", {"text": message}, to=sid)
        else:
            await self.emit("frontdesk_error", error, to=sid)
        return {"ok": False, "error": error}
