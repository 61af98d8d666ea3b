"""The website widget channel: Rasa's socketio protocol, plus frontdesk's own events.

A conversation belongs to whoever opened it (frontdesk.channels.resume): `session_confirm` is
the session id string, as Rasa sends it; frontdesk's widget then gets
`session_token {session_id, token}` and resumes with `session_request {session_id,
resume_token, frontdesk: 1}`. A client that may not have the id it asked for gets a new one.
Customer messages are rate limited (frontdesk.channels.ratelimit): over a limit the ack is
`{ok: false, error: {code: "rate_limited", message, retry_after}}` and nothing is stored.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import socketio

from frontdesk.channels.packets import refusal, refused
from frontdesk.channels.ratelimit import RateLimiter
from frontdesk.channels.resume import ACCESS_FIELD, PLAIN, TOKEN, Grant, may_be_plain
from frontdesk.channels.safeguards import Safeguards
from frontdesk.channels.widget_files import WidgetFiles
from frontdesk.channels.widget_input import (
    CLIENT_MSG_ID,
    PRIVATE_CUSTOM_DATA,
    SESSION_ID,
    custom_data,
    details_of,
    is_connection,
    text_or_none,
    valid_text,
)
from frontdesk.channels.widget_shapes import history_shape, plain_room, plain_shape, rasa_shape
from frontdesk.core.conversation import Conversation, Conversations
from frontdesk.core.messages import Inbound
from frontdesk.core.ratings import AnswerRatings
from frontdesk.core.router import Router
from frontdesk.core.templates import Templates
from frontdesk.core.waits import Waits
from frontdesk.errors import BadInput, StoreUnavailable
from frontdesk.store.base import Store

__all__ = ["CHANNEL", "WidgetChannel", "is_connection"]

log = logging.getLogger(__name__)

CHANNEL = "widget"
# For a flows/ directory older than its `rate_limited` template (rendered with `seconds`).
RATE_LIMITED = (
    "You're sending messages faster than we can answer them. "
    "Please wait a few seconds before sending more."
)


class WidgetChannel(socketio.AsyncNamespace):  # type: ignore[misc]
    """Socket.IO namespace for website customers; also the widget's outbound sender."""

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
    ) -> None:
        super().__init__(namespace)
        self.extras = extras  # photos and files, the pre-chat form (channels/widget_files.py)
        self.access = safeguards.access
        self.limiter = RateLimiter(safeguards.limits, router.pending_turns)
        self.router = router
        self.conversations = conversations
        self.waits = waits
        self.ratings = ratings
        self.store = store
        self.templates = templates
        self.max_message_length = max_message_length
        self.history_limit = history_limit

    # -- outbound -----------------------------------------------------------------------------

    async def deliver(self, conversation_id: str, entry: Mapping[str, Any]) -> None:
        await self.emit("bot_uttered", rasa_shape(self._signed(entry)), room=conversation_id)
        plain = plain_shape(self.extras.plain(entry) if self.extras else entry)
        if plain:
            await self.emit("bot_uttered", plain, room=plain_room(conversation_id))

    async def typing(
        self, conversation_id: str, active: bool, in_reply_to: int, activity: str = ""
    ) -> None:
        status: dict[str, Any] = {"typing": active, "in_reply_to": in_reply_to}
        if activity:
            status["activity"] = activity
        await self.emit("bot_typing", status, room=conversation_id)

    async def event(self, conversation_id: str, name: str, data: Mapping[str, Any]) -> None:
        await self.emit(name, dict(data), room=conversation_id)

    # -- inbound ------------------------------------------------------------------------------

    async def trigger_event(self, event: Any, *args: Any) -> Any:
        """Every event gets an answer: one no handler takes (an unknown or reserved name, extra
        arguments, an unreadable packet) an error ack, and nothing else happens."""
        refused_why = refusal(self, event, args)
        if refused_why is None:
            return await super().trigger_event(event, *args)
        log.debug("widget: refused an event: %s", refused_why[1])
        return refused(*refused_why)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if not is_connection(environ):
            return  # a client emitted an event named "connect": not a connection
        await self.save_session(
            sid, {"accept_language": str(environ.get("HTTP_ACCEPT_LANGUAGE", ""))[:200]}
        )

    async def on_session_request(self, sid: str, data: Any = None) -> None:
        session = await self.get_session(sid)
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
            details = details_of(custom)
            if grant.user_id:
                details["customer_id"] = grant.user_id[:500]
            conversation = await self.router.open_conversation(
                grant.session_id, CHANNEL, language, details
            )
            if not grant.resumed and not grant.user_id:  # an id the server just made up
                access = TOKEN if extras else PLAIN
                await self.store.update_conversation(grant.session_id, {ACCESS_FIELD: access})
        except BadInput as exc:
            await self._error(sid, session.get("language"), exc.code, exc.message)
            return
        except StoreUnavailable as exc:
            log.error("session_request: %s", exc)
            await self._error(sid, None, "store_unavailable", None)
            return
        session_id = grant.session_id
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
            return
        if previous and previous != session_id:  # this connection no longer hears the old one
            await self.leave_room(sid, previous)
            await self.leave_room(sid, plain_room(previous))
            await self._page_closed(previous, sid)
        await self.enter_room(sid, session_id if extras else plain_room(session_id))
        await self.router.customer_presence(session_id, True)  # agents see it
        await self.emit("session_confirm", session_id, to=sid)
        if extras:  # stock Rasa clients keep their own history and know no extra events
            token = {"session_id": session_id, "token": grant.token}
            await self.emit("session_token", token, to=sid)
            await self._send_history(sid, session_id, last_seq if grant.resumed else 0)
            await self._send_config(sid, session["language"], conversation)
            if conversation.waiting:  # a reload while waiting keeps the place in line in view
                await self._send_queue_status(sid, conversation.case_id)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        try:
            session = await self.get_session(sid)
        except KeyError:
            return
        if session.get("session_id"):
            await self._page_closed(session["session_id"], sid)

    async def _page_closed(self, session_id: str, sid: str) -> None:
        """Agents see when the customer closed the last page with the chat (the console's
        "Not on the page"). With a manager shared across processes, another process may still
        hold a page: nothing is said."""
        manager = self.server.manager
        if type(manager) is not socketio.AsyncManager:
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
            await self.emit("queue_status", self.waits.payload(status), to=sid)

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
        await self.emit("widget_config", config, to=sid)

    def _signed(self, entry: Mapping[str, Any]) -> Mapping[str, Any]:
        """The entry with a signed link on its photo or file, made now (never stored)."""
        return self.extras.signed(entry) if self.extras is not None else entry

    async def _send_history(self, sid: str, session_id: str, last_seq: int) -> None:
        try:
            entries = await self.store.history(session_id, last_seq, self.history_limit)
        except StoreUnavailable as exc:
            log.error("history for %s: %s", session_id, exc)
            await self._error(sid, None, "store_unavailable", None)
            return
        messages = [history_shape(self._signed(e)) for e in entries]
        last = messages[-1]["seq"] if messages else last_seq
        await self.emit(
            "history",
            {"session_id": session_id, "last_seq": last, "messages": messages},
            to=sid,
        )

    async def on_user_uttered(self, sid: str, data: Any = None) -> dict[str, Any]:
        session = await self.get_session(sid)
        language = session.get("language")
        client_msg_id = data.get("client_msg_id") if isinstance(data, dict) else None
        if isinstance(data, dict) and not data.get("message") and not session.get("extras"):
            # Stock Rasa clients send their (empty) init payload on open: Rasa ignores it too.
            return {"ok": True, "ignored": True}
        try:
            inbound = await self._any_inbound(session, data)
            retry_after = self.limiter.check(sid, inbound.conversation_id)
            if retry_after:
                return await self._rate_limited(sid, session, retry_after, client_msg_id)
            await self._follow_language(sid, session, inbound.metadata)
            accepted = await self.router.accept(inbound)
        except BadInput as exc:
            return await self._error(sid, language, exc.code, exc.message, client_msg_id)
        except StoreUnavailable as exc:
            log.error("user_uttered: %s", exc)
            return await self._error(sid, language, "store_unavailable", None, client_msg_id)
        if not accepted.duplicate and self._other_tabs(inbound.conversation_id, sid):
            echo = {"seq": accepted.seq, "text": inbound.text, "client_msg_id": client_msg_id}
            if inbound.attachment:
                echo["file"] = self._signed({"attachment": inbound.attachment})["attachment"]
            await self.emit("user_echo", echo, room=inbound.conversation_id, skip_sid=sid)
        return {"ok": True, "seq": accepted.seq, "duplicate": accepted.duplicate}

    async def _rate_limited(
        self, sid: str, session: Mapping[str, Any], retry_after: float, client_msg_id: Any
    ) -> dict[str, Any]:
        """Refused, not stored: frontdesk's widget keeps the message and sends it again after
        `retry_after` seconds; a stock client is told in a bot message (once a while)."""
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
        if self.limiter.flooding(sid):
            log.warning("widget: closing a connection that keeps sending while told to wait")
            await self.disconnect(sid)
        elif not session.get("extras") and self.limiter.notice_due(sid, time.monotonic()):
            await self.emit("bot_uttered", {"text": message}, to=sid)
        return {"ok": False, "error": error}

    def _other_tabs(self, session_id: str, sid: str) -> bool:
        """Whether the customer has this conversation open elsewhere (on this process, or
        possibly on another gateway when Socket.IO goes through Redis)."""
        if type(self.server.manager) is not socketio.AsyncManager:
            return True  # a manager shared across processes: other tabs may be elsewhere
        participants = self.server.manager.get_participants(self.namespace, session_id)
        return any(other != sid for other, _ in participants)

    async def _follow_language(
        self, sid: str, session: dict[str, Any], custom: Mapping[str, Any]
    ) -> None:
        """The page's language (Rasa clients send it in customData with every message) is
        followed when the page changes it; the language the customer writes in is followed
        by the router, and an unchanged page language does not undo that."""
        named = text_or_none(custom.get("language"))
        if not named or named == session.get("named_language"):
            return
        language = self.templates.pick_language(named)
        session["named_language"] = named
        if language != session.get("language"):
            session["language"] = language
            conversation = await self.conversations.get(session["session_id"])
            await self.conversations.set_language(conversation, language)
        await self.save_session(sid, session)

    async def _any_inbound(self, session: dict[str, Any], data: Any) -> Inbound:
        """A text message, or a photo or file uploaded before (with an optional caption)."""
        if isinstance(data, dict) and data.get("attachment_id") and self.extras is not None:
            session_id = session.get("session_id")
            if not session_id:
                raise BadInput("no_session", self._text(session, "no_session"))
            language = session.get("language") or self.templates.default_language
            return await self.extras.inbound(session_id, data, self.templates, language)
        return self._inbound(session, data)

    async def on_prechat(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`{name, email}`: the pre-chat form's answers (frontdesk.core.prechat)."""
        session = await self.get_session(sid)
        language = session.get("language")
        try:
            if not session.get("session_id") or self.extras is None:
                raise BadInput("no_session", self._text(session, "no_session"))
            return await self.extras.prechat_answers(session["session_id"], data)
        except BadInput as exc:
            return {"ok": False, "error": {"code": exc.code, "message": exc.message}}
        except StoreUnavailable as exc:
            log.error("prechat: %s", exc)
            return await self._error(sid, language, "store_unavailable", None)

    def _inbound(self, session: dict[str, Any], data: Any) -> Inbound:
        if not isinstance(data, dict):
            raise BadInput("bad_request", "user_uttered must be an object with a message")
        session_id = data.get("session_id") or session.get("session_id")
        if not session_id:
            raise BadInput("no_session", self._text(session, "no_session"))
        if session_id != session.get("session_id"):
            raise BadInput("bad_request", "session_id does not match this connection's session")
        message = data.get("message")
        if not isinstance(message, str) or not valid_text(message):
            raise BadInput("bad_request", "message must be text (valid UTF-8)")
        message = message.strip()
        if not message:
            raise BadInput("empty_message", self._text(session, "empty_message"))
        limit = self.max_message_length
        if len(message) > limit:
            text = self._text(session, "message_too_long", length=len(message), limit=limit)
            raise BadInput("message_too_long", text)
        client_msg_id = data.get("client_msg_id")
        if client_msg_id is not None and (
            not isinstance(client_msg_id, str) or not CLIENT_MSG_ID.match(client_msg_id)
        ):
            raise BadInput("bad_request", "client_msg_id must be 1-128 letters, digits or _.:-")
        title = data.get("title")
        if isinstance(title, str) and not valid_text(title):
            raise BadInput("bad_request", "title must be valid UTF-8 text")
        shown = title.strip()[:limit] if isinstance(title, str) and title.strip() else message
        custom = custom_data(data.get("customData"))
        if any(key in custom for key in PRIVATE_CUSTOM_DATA):
            custom = {k: v for k, v in custom.items() if k not in PRIVATE_CUSTOM_DATA}
        return Inbound(
            conversation_id=session_id,
            channel=CHANNEL,
            text=shown,
            payload=message,
            client_msg_id=client_msg_id,
            metadata=custom,
        )

    async def on_answer_feedback(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`{seq, helpful}`: the customer's answer to "Did this answer your question?"."""
        session = await self.get_session(sid)
        language = session.get("language")
        try:
            session_id = session.get("session_id")
            if not session_id:
                raise BadInput("no_session", self._text(session, "no_session"))
            if not isinstance(data, dict):
                raise BadInput("bad_request", "answer_feedback must be an object")
            seq, helpful = data.get("seq"), data.get("helpful")
            if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 2**53:
                raise BadInput("bad_request", "seq must be the answer's seq")
            if not isinstance(helpful, bool):
                raise BadInput("bad_request", "helpful must be true or false")
            answer_id = await self.ratings.rate(session_id, seq, helpful)
        except BadInput as exc:
            return await self._error(sid, language, exc.code, exc.message)
        except StoreUnavailable as exc:
            log.error("answer_feedback: %s", exc)
            return await self._error(sid, language, "store_unavailable", None)
        return {"ok": True, "answer_id": answer_id}

    async def on_user_typing(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`{typing}`: relayed to the agent while one has the conversation; ignored otherwise.
        Bad input is answered in the ack only (the widget shows no error for a signal)."""
        typing = data.get("typing") if isinstance(data, dict) else None
        if not isinstance(typing, bool):
            return refused("bad_request", "user_typing must be an object {typing: true|false}")
        session = await self.get_session(sid)
        session_id = session.get("session_id")
        if not session_id:
            return {"ok": True, "ignored": True}
        try:
            await self.router.customer_typing(session_id, typing)
        except StoreUnavailable as exc:
            log.warning("user_typing: %s", exc)
        return {"ok": True}

    def _text(self, session: Mapping[str, Any], key: str, **context: Any) -> str:
        language = session.get("language") or self.templates.default_language
        return self.templates.render(language, key, **context)

    async def _error(
        self,
        sid: str,
        language: str | None,
        code: str,
        message: str | None,
        client_msg_id: Any = None,
    ) -> dict[str, Any]:
        if message is None:
            message = self.templates.render(language or self.templates.default_language, code)
        error: dict[str, Any] = {"code": code, "message": message}
        if isinstance(client_msg_id, str):
            error["client_msg_id"] = client_msg_id
        session = await self.get_session(sid)
        if session.get("session_id") and not session.get("extras"):
            # A stock Rasa client shows only bot messages: say what happened as one.
            await self.emit("bot_uttered", {"text": message}, to=sid)
        else:
            await self.emit("frontdesk_error", error, to=sid)
        return {"ok": False, "error": error}
