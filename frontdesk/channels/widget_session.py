"""A widget connection and its conversation: connect, `session_request`, disconnect.

A conversation belongs to whoever opened it (frontdesk.channels.resume): `session_confirm` is
the session id string, as Rasa sends it; frontdesk's widget then gets
`session_token {session_id, token}`, its history and `widget_config`, and resumes with
`session_request {session_id, resume_token, frontdesk: 1}`. A client that may not have the id
it asked for gets a new one. A connection has a budget of session requests
(frontdesk.channels.ratelimit.SESSION_REQUESTS), and its client address one of new
conversations (ADDRESS_CONVERSATIONS_PER_SECOND): over either the ack is
`{ok: false, error: {code: "rate_limited", message, retry_after}}` and nothing else happens.
A session_request whose client is gone before it is answered ends quietly
(frontdesk.channels.guard.GuardedServer).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from frontdesk.channels.emitting import across_processes
from frontdesk.channels.guard import client_key
from frontdesk.channels.resume import ACCESS_FIELD, PLAIN, TOKEN, Grant, may_be_plain
from frontdesk.channels.widget_base import CHANNEL, STORE_RETRY_AFTER, WidgetBase
from frontdesk.channels.widget_input import (
    SESSION_ID,
    custom_data,
    details_of,
    is_connection,
    text_or_none,
)
from frontdesk.channels.widget_shapes import history_shape, plain_room
from frontdesk.core.conversation import Conversation
from frontdesk.errors import BadInput, StoreUnavailable

log = logging.getLogger(__name__)


class WidgetSession(WidgetBase):
    """The widget namespace's connection and session handlers."""

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if not is_connection(environ):
            return  # a client emitted an event named "connect": not a connection
        self.limiter.bind(sid, client_key(environ.get("aiohttp.request")))
        await self.save_session(
            sid, {"accept_language": str(environ.get("HTTP_ACCEPT_LANGUAGE", ""))[:200]}
        )

    async def on_frontdesk_oversized(self, sid: str, data: Any = None) -> dict[str, Any] | None:
        """A packet too long to read (frontdesk.channels.packets.OVERSIZED): answered as a
        message that is too long, in the customer's language; the connection stays."""
        session = await self.get_session(sid)
        length = data.get("length") if isinstance(data, dict) else None
        if not isinstance(length, int) or isinstance(length, bool):
            return await self._error(sid, session.get("language"), "bad_request", "bad packet")
        limit = self.max_message_length
        text = self._text(session, "message_too_long", length=length, limit=limit)
        return await self._error(sid, session.get("language"), "message_too_long", text)

    async def on_session_request(self, sid: str, data: Any = None) -> dict[str, Any] | None:
        async with self.session_gate:  # a reconnect storm is served in turn (widget_base.py)
            return await self._session_request(sid, data)

    async def _session_request(self, sid: str, data: Any = None) -> dict[str, Any] | None:
        session = await self.get_session(sid)  # KeyError when the client left: see guard.py
        retry_after = self.session_limiter.check_connection(sid)
        if retry_after:  # refused in the ack; the connection keeps the conversation it has
            log.debug("session_request: over the connection's limit")
            return {"ok": False, "error": self._slow_down(sid, session, retry_after)}
        try:
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise BadInput("bad_request", "session_request must be an object")
            proposed = data.get("session_id") or None
            if proposed is not None and (
                not isinstance(proposed, str) or not SESSION_ID.match(proposed)
            ):
                raise BadInput("bad_request", "session_id must be 1-128 letters, digits or _.:-")
            last_seq = data.get("last_seq", 0)
            if (
                not isinstance(last_seq, int)
                or isinstance(last_seq, bool)
                or not 0 <= last_seq < 2**53
            ):
                raise BadInput("bad_request", "last_seq must be a whole number >= 0")
            custom = custom_data(data.get("customData"))
            extras = data.get("frontdesk") is not None  # frontdesk's widget announces itself
            language = self.templates.pick_language(
                text_or_none(custom.get("language")), session.get("accept_language")
            )
            grant = await self._grant(proposed, data.get("resume_token"), extras, custom)
            retry_after = await self.limiter.session(sid, grant.session_id, grant.resumed)
            if retry_after:  # the address opens conversations faster than people do
                log.debug("session_request: over the address's new conversations")
                return {"ok": False, "error": self._slow_down(sid, session, retry_after)}
            details = details_of(custom)
            if grant.user_id:
                details["customer_id"] = grant.user_id[:500]
            issued = not grant.resumed and not grant.user_id  # an id the server just made up
            new_fields = {ACCESS_FIELD: TOKEN if extras else PLAIN} if issued else None
            opened = await self.conversations.opened(
                grant.session_id, CHANNEL, language, details, new_fields
            )
        except BadInput as exc:
            await self._error(sid, session.get("language"), exc.code, exc.message)
            return None
        except StoreUnavailable as exc:
            log.error("session_request: %s", exc)
            # In the ack too, so the widget asks again (Redis failing over takes seconds; a
            # client told only by the frontdesk_error event waited for a confirm that never came).
            return await self._error(
                sid, None, "store_unavailable", None, retry_after=STORE_RETRY_AFTER
            )
        session_id, conversation = grant.session_id, opened.conversation
        previous = session.get("session_id")
        session.update(
            session_id=session_id,
            language=conversation.language,
            named_language=text_or_none(custom.get("language")),
            extras=extras,
        )
        try:
            await self.save_session(sid, session)
        except KeyError:  # the client disconnected while the conversation was opened
            return None
        if previous and previous != session_id:  # this connection no longer hears the old one
            await self.leave_room(sid, previous)
            await self.leave_room(sid, plain_room(previous))
            await self._page_closed(previous, sid)
        await self.enter_room(sid, session_id if extras else plain_room(session_id))
        self.pages.setdefault(session_id, set()).add(sid)
        if not opened.created:  # agents see it; a new conversation has no case, no away mark
            await self.router.customer_presence(session_id, True)
            await self.router.page_opened(session_id)
        await self._to_client(sid, "session_confirm", session_id)
        if extras:  # stock Rasa clients keep their own history and know no extra events
            token = {"session_id": session_id, "token": grant.token}
            await self._to_client(sid, "session_token", token)
            # A conversation whose id was issued just now has no transcript anyone could have
            # written to: nothing to read.
            fresh = opened.created and issued
            await self._send_history(
                sid,
                session_id,
                last_seq if grant.resumed else 0,
                conversation.language,
                None if fresh else opened.fields,
            )
            await self._send_config(sid, session["language"], conversation)
            if conversation.waiting:  # a reload while waiting keeps the place in line in view
                await self._send_queue_status(sid, conversation.case_id)
        return None

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.unbind(sid)
        try:
            session = await self.get_session(sid)
        except KeyError:
            return
        if session.get("session_id"):
            await self._page_closed(session["session_id"], sid)

    async def _page_closed(self, session_id: str, sid: str) -> None:
        """The abandonment rule hears that this process holds no page of the conversation any
        more (another process may: it says so, core/abandon.py). Agents see when the customer
        closed the last page with the chat (the console's "Not on the page"); with a manager
        shared across processes, another process may still hold a page: nothing is said."""
        here = self.pages.get(session_id, set())
        here.discard(sid)
        if not here:  # no page of this conversation left on this process
            self.pages.pop(session_id, None)
            await self.router.page_closed(session_id)
        manager = self.server.manager
        if across_processes(manager):
            return
        rooms = [session_id, plain_room(session_id)]
        if not any(other != sid for other, _ in manager.get_participants(self.namespace, rooms)):
            await self.router.customer_presence(session_id, False)

    async def _grant(
        self, proposed: str | None, token: Any, extras: bool, custom: Mapping[str, Any]
    ) -> Grant:
        """The conversation this client may have: its own (a valid token, a verified shopper,
        or an id issued to a token-less client), or a new one. The answer is the same whether
        or not a conversation the client may not have exists."""
        issued_plain = False
        if proposed is not None and may_be_plain(proposed, extras):
            raw = await self.store.get_conversation(proposed)
            issued_plain = raw.get(ACCESS_FIELD) == PLAIN and raw.get("channel") == CHANNEL
        grant = self.access.decide(proposed, token, extras, custom, issued_plain)
        if proposed is not None and not grant.resumed:
            log.debug("session_request: %s is not this client's", proposed)
        return grant

    async def _send_queue_status(self, sid: str, case_id: str) -> None:
        try:
            status = await self.waits.status_of(case_id)
        except StoreUnavailable as exc:
            log.error("queue_status: %s", exc)
            return
        if status is not None:
            await self._to_client(sid, "queue_status", self.waits.payload(status))

    async def _send_config(
        self, sid: str, language: str, conversation: Conversation | None = None
    ) -> None:
        """The header's "Typically replies in …", from the same data as every wait quote;
        for frontdesk's widget also what it may upload, and the pre-chat form."""
        try:
            status = await self.waits.typical_reply(language)
        except StoreUnavailable as exc:
            log.error("widget_config: %s", exc)
            return
        config: dict[str, Any] = {"status_text": status, "language": language}
        if self.extras is not None:
            config["files"] = self.extras.config()
            if self.extras.prechat is not None and conversation is not None:
                prechat = self.extras.prechat.widget_config(conversation)
                if prechat is not None:
                    config["prechat"] = prechat
        await self._to_client(sid, "widget_config", config)

    async def _send_history(
        self,
        sid: str,
        session_id: str,
        last_seq: int,
        language: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        """The transcript after `last_seq`, each FAQ answer with the customer's rating of it
        (`rating: yes|no`, once rated; from the conversation's `fields` as just read, or read
        now); read from its beginning (a page load), it also carries the first screen's
        `greeting` (flows/greeting.yml), which is never stored. Without `fields` the
        conversation is one just made: its transcript is empty, and is not read."""
        try:
            entries = (
                []
                if fields is None
                else await self.store.history(session_id, last_seq, self.history_limit)
            )
            ratings = await self._ratings(session_id, entries, fields)
        except StoreUnavailable as exc:
            log.error("history for %s: %s", session_id, exc)
            await self._error(sid, None, "store_unavailable", None)
            return
        messages = [history_shape(self._signed(e)) for e in entries]
        for message in messages:
            rating = ratings.get(message["seq"])
            if rating is not None and rating[0] == message.get("answer_id"):
                message["rating"] = rating[1]
        last = messages[-1]["seq"] if messages else last_seq
        history: dict[str, Any] = {"session_id": session_id, "last_seq": last, "messages": messages}
        if last_seq == 0 and (not messages or messages[0]["seq"] == 1):
            greeting = self.greeting.for_language(
                language or self.templates.default_language, self.templates.default_language
            )
            if greeting is not None:
                history["greeting"] = greeting
        await self._to_client(sid, "history", history)

    async def _ratings(
        self,
        session_id: str,
        entries: list[dict[str, Any]],
        fields: Mapping[str, str] | None = None,
    ) -> dict[int, tuple[str, str]]:
        """seq -> (answer id, "yes" | "no") for the rated answers among entries (from `fields`,
        else one read; none when there is no answer to rate)."""
        if not any(e.get("answer_id") for e in entries):
            return {}
        if fields is None:
            fields = await self.store.get_conversation(session_id)
        ratings: dict[int, tuple[str, str]] = {}
        for name, value in fields.items():
            if not name.startswith("rating:"):
                continue
            seq = name.removeprefix("rating:")
            answer_id, _, helpful = value.partition(" ")  # "<answer_id> yes|no"
            if seq.isdigit() and helpful in ("yes", "no"):
                ratings[int(seq)] = (answer_id, helpful)
        return ratings
