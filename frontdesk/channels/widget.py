"""The website widget channel: Rasa's socketio protocol, plus frontdesk's own events."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import socketio

from frontdesk.core.conversation import Conversations
from frontdesk.core.messages import Inbound
from frontdesk.core.ratings import AnswerRatings
from frontdesk.core.router import Router
from frontdesk.core.templates import Templates
from frontdesk.core.waits import Waits
from frontdesk.errors import BadInput, StoreUnavailable
from frontdesk.store.base import Store

log = logging.getLogger(__name__)

CHANNEL = "widget"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_CUSTOM_DATA = 4096


def plain_shape(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A stored bot/agent/system entry exactly as Rasa's socketio channel emits it (stock Rasa
    web clients recognise a message by its exact set of keys)."""
    message: dict[str, Any] = {}
    if entry.get("text"):
        message["text"] = entry["text"]
    if entry.get("quick_replies"):
        message["quick_replies"] = [
            {"content_type": "text", "title": q["title"], "payload": q["payload"]}
            for q in entry["quick_replies"]
        ]
    if entry.get("image"):
        message["attachment"] = {"type": "image", "payload": {"src": entry["image"]}}
    if entry.get("custom"):
        message["custom"] = entry["custom"]
    return message


def rasa_shape(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Rasa's shape plus frontdesk's extras (seq, ts, who sent it), for frontdesk's widget."""
    message = plain_shape(entry)
    message["seq"] = entry["seq"]
    message["ts"] = entry["ts"]
    message["sender"] = {"kind": entry["role"], "name": entry.get("sender_name")}
    for key in ("answer_id", "answer_confidence"):
        if entry.get(key) is not None:
            message[key] = entry[key]
    return message


def plain_room(conversation_id: str) -> str:
    """The room of a conversation's stock Rasa clients (no extras)."""
    return f"plain:{conversation_id}"


def history_shape(entry: Mapping[str, Any]) -> dict[str, Any]:
    if entry["role"] == "customer":
        item = {"seq": entry["seq"], "ts": entry["ts"], "role": "customer", "text": entry["text"]}
        if entry.get("client_msg_id"):
            item["client_msg_id"] = entry["client_msg_id"]
        return item
    return {"role": entry["role"], **rasa_shape(entry)}


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
        namespace: str = "/",
    ) -> None:
        super().__init__(namespace)
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
        await self.emit("bot_uttered", rasa_shape(entry), room=conversation_id)
        plain = plain_shape(entry)
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
            session_id = data.get("session_id") or sid
            if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
                raise BadInput("bad_request", "session_id must be 1-128 letters, digits or _.:-")
            last_seq = data.get("last_seq", 0)
            if (
                not isinstance(last_seq, int)
                or isinstance(last_seq, bool)
                or not 0 <= last_seq < 2**53
            ):
                raise BadInput("bad_request", "last_seq must be a whole number >= 0")
            custom = _custom_data(data.get("customData"))
            extras = data.get("frontdesk") is not None  # frontdesk's widget announces itself
            language = self.templates.pick_language(
                _str(custom.get("language")), session.get("accept_language")
            )
            conversation = await self.router.open_conversation(
                session_id, CHANNEL, language, _details(custom)
            )
        except BadInput as exc:
            await self._error(sid, session.get("language"), exc.code, exc.message)
            return
        except StoreUnavailable as exc:
            log.error("session_request: %s", exc)
            await self._error(sid, None, "store_unavailable", None)
            return
        session.update(
            session_id=session_id,
            language=conversation.language,
            named_language=_str(custom.get("language")),
            extras=extras,
        )
        try:
            await self.save_session(sid, session)
        except KeyError:  # the client disconnected while the conversation was opened
            return
        await self.enter_room(sid, session_id if extras else plain_room(session_id))
        await self.emit("session_confirm", session_id, to=sid)
        if extras:  # stock Rasa clients keep their own history and know no extra events
            await self._send_history(sid, session_id, last_seq)
            await self._send_config(sid, session["language"])
            if conversation.waiting:  # a reload while waiting keeps the place in line in view
                await self._send_queue_status(sid, conversation.case_id)

    async def _send_queue_status(self, sid: str, case_id: str) -> None:
        try:
            status = await self.waits.status_of(case_id)
        except StoreUnavailable as exc:
            log.error("queue_status: %s", exc)
            return
        if status is not None:
            await self.emit("queue_status", self.waits.payload(status), to=sid)

    async def _send_config(self, sid: str, language: str) -> None:
        """The header's "Typically replies in …", from the same data as every wait quote."""
        try:
            status = await self.waits.typical_reply(language)
        except StoreUnavailable as exc:
            log.error("widget_config: %s", exc)
            return
        await self.emit("widget_config", {"status_text": status, "language": language}, to=sid)

    async def _send_history(self, sid: str, session_id: str, last_seq: int) -> None:
        try:
            entries = await self.store.history(session_id, last_seq, self.history_limit)
        except StoreUnavailable as exc:
            log.error("history for %s: %s", session_id, exc)
            await self._error(sid, None, "store_unavailable", None)
            return
        messages = [history_shape(e) for e in entries]
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
            inbound = self._inbound(session, data)
            await self._follow_language(sid, session, inbound.metadata)
            accepted = await self.router.accept(inbound)
        except BadInput as exc:
            return await self._error(sid, language, exc.code, exc.message, client_msg_id)
        except StoreUnavailable as exc:
            log.error("user_uttered: %s", exc)
            return await self._error(sid, language, "store_unavailable", None, client_msg_id)
        if not accepted.duplicate and self._other_tabs(inbound.conversation_id, sid):
            echo = {"seq": accepted.seq, "text": inbound.text, "client_msg_id": client_msg_id}
            await self.emit("user_echo", echo, room=inbound.conversation_id, skip_sid=sid)
        return {"ok": True, "seq": accepted.seq, "duplicate": accepted.duplicate}

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
        named = _str(custom.get("language"))
        if not named or named == session.get("named_language"):
            return
        language = self.templates.pick_language(named)
        session["named_language"] = named
        if language != session.get("language"):
            session["language"] = language
            conversation = await self.conversations.get(session["session_id"])
            await self.conversations.set_language(conversation, language)
        await self.save_session(sid, session)

    def _inbound(self, session: dict[str, Any], data: Any) -> Inbound:
        if not isinstance(data, dict):
            raise BadInput("bad_request", "user_uttered must be an object with a message")
        session_id = data.get("session_id") or session.get("session_id")
        if not session_id:
            raise BadInput("no_session", self._text(session, "no_session"))
        if session_id != session.get("session_id"):
            raise BadInput("bad_request", "session_id does not match this connection's session")
        message = data.get("message")
        if not isinstance(message, str) or not _valid_text(message):
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
            not isinstance(client_msg_id, str) or not _CLIENT_MSG_ID.match(client_msg_id)
        ):
            raise BadInput("bad_request", "client_msg_id must be 1-128 letters, digits or _.:-")
        title = data.get("title")
        if isinstance(title, str) and not _valid_text(title):
            raise BadInput("bad_request", "title must be valid UTF-8 text")
        shown = title.strip()[:limit] if isinstance(title, str) and title.strip() else message
        custom = _custom_data(data.get("customData"))
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

    async def on_user_typing(self, sid: str, data: Any = None) -> None:
        """Relayed to the agent while one has the conversation; ignored otherwise."""
        session = await self.get_session(sid)
        session_id = session.get("session_id")
        if not session_id or not isinstance(data, dict):
            return
        try:
            await self.router.customer_typing(session_id, bool(data.get("typing")))
        except StoreUnavailable as exc:
            log.warning("user_typing: %s", exc)

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


def _custom_data(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput("bad_request", "customData must be an object")
    try:
        encoded = json.dumps(value, default=str, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        raise BadInput("bad_request", "customData must be JSON with valid UTF-8 text") from None
    if len(encoded) > MAX_CUSTOM_DATA:
        raise BadInput("bad_request", f"customData must be under {MAX_CUSTOM_DATA} bytes")
    return value


def is_connection(environ: Any) -> bool:
    """Whether on_connect was called for a real connection (its WSGI-style environ), not for
    an event a client named "connect", which python-socketio dispatches the same way."""
    return isinstance(environ, dict) and "aiohttp.request" in environ


def _valid_text(value: str) -> bool:
    """False for text that cannot be stored, such as a lone UTF-16 surrogate."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _details(custom: Mapping[str, Any]) -> dict[str, str]:
    """Conversation details worth keeping from customData (shown to agents later)."""
    details: dict[str, str] = {}
    for key in ("page_url", "customer_name", "customer_email", "customer_id"):
        value = custom.get(key)
        if isinstance(value, str) and value:
            details[key] = value[:500]
    return details
