"""What a widget customer sends in a conversation: `user_uttered`, `prechat`,
`answer_feedback`, `user_typing`, `transcript_request`.

Customer messages are rate limited (frontdesk.channels.ratelimit): over a limit the ack is
`{ok: false, error: {code: "rate_limited", message, retry_after}}` and nothing is stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from frontdesk.channels.emitting import across_processes
from frontdesk.channels.packets import refused
from frontdesk.channels.ratelimit import TYPING_SIGNALS, RateLimiter
from frontdesk.channels.widget_base import CHANNEL, STORE_RETRY_AFTER, WidgetBase
from frontdesk.channels.widget_input import (
    CLIENT_MSG_ID,
    PRIVATE_CUSTOM_DATA,
    custom_data,
    text_or_none,
    valid_text,
)
from frontdesk.core.messages import Inbound
from frontdesk.core.transcript_mail import TranscriptMail
from frontdesk.errors import BadInput, StoreUnavailable

log = logging.getLogger(__name__)

MAX_DRAFT = 1000  # characters of the customer's draft relayed (the widget sends the last ones)


class WidgetEvents(WidgetBase):
    """The widget namespace's handlers of a customer's messages and signals."""

    # Transcripts by e-mail, when mail goes out (set by frontdesk.mail.web.offer_transcripts).
    transcripts: TranscriptMail | None = None

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
            # The widget keeps the message and sends it again by itself (Redis failing over).
            return await self._error(
                sid, language, "store_unavailable", None, client_msg_id, STORE_RETRY_AFTER
            )
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
        error = self._slow_down(sid, session, retry_after, client_msg_id)
        if self.limiter.flooding(sid):
            log.warning("widget: closing a connection that keeps sending while told to wait")
            await self.disconnect(sid)
        elif not session.get("extras") and self.limiter.notice_due(sid, time.monotonic()):
            await self.emit("bot_uttered", {"text": error["message"]}, to=sid)
        return {"ok": False, "error": error}

    def _other_tabs(self, session_id: str, sid: str) -> bool:
        """Whether the customer has this conversation open elsewhere (on this process, or
        possibly on another gateway when Socket.IO goes through Redis)."""
        if across_processes(self.server.manager):
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

    @cached_property
    def signal_limiter(self) -> RateLimiter:
        """user_typing's own budget per connection (ratelimit.TYPING_SIGNALS)."""
        return RateLimiter(TYPING_SIGNALS)

    async def on_user_typing(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`{typing, draft?}`: relayed to the agent while one has the conversation; ignored
        otherwise. `draft` (frontdesk's widget only): the text typed so far, at most MAX_DRAFT
        characters, shown to that agent alone when flows/handoff.yml show_customer_draft is on;
        never stored, never given to the bot. The ack says `draft: true` while the agent would
        see it (the widget sends drafts only then). Bad input is answered in the ack only (the
        widget shows no error for a signal); over TYPING_SIGNALS the signal is dropped."""
        typing = data.get("typing") if isinstance(data, dict) else None
        if not isinstance(typing, bool):
            return refused("bad_request", "user_typing must be an object {typing: true|false}")
        assert isinstance(data, dict)
        draft = data.get("draft")
        if draft is not None and (not isinstance(draft, str) or not valid_text(draft)):
            return refused("bad_request", "draft must be text (valid UTF-8)")
        if draft is not None and len(draft) > MAX_DRAFT:
            return refused("draft_too_long", f"draft must be at most {MAX_DRAFT} characters")
        retry_after = self.signal_limiter.check_connection(sid)
        if retry_after:
            if self.signal_limiter.flooding(sid):
                log.warning("widget: closing a connection that floods user_typing")
                await self.disconnect(sid)
            session = await self.get_session(sid)
            return {"ok": False, "error": self._slow_down(sid, session, retry_after)}
        session = await self.get_session(sid)
        session_id = session.get("session_id")
        if not session_id:
            return {"ok": True, "ignored": True}
        try:
            shown = await self.router.customer_typing(session_id, typing, draft)
        except StoreUnavailable as exc:
            log.warning("user_typing: %s", exc)
            return {"ok": True}
        return {"ok": True, "draft": shown}

    async def on_transcript_request(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`{email?}`: e-mail the customer the transcript of the conversation a person just
        closed (frontdesk.core.transcript_mail), to `email` or the address on file. The ack
        is `{ok, message}` or an error in the customer's language (`email_needed`: ask for
        an address; `bad_email`, `nothing_to_send`, `unavailable`). Limited like session
        requests (SESSION_REQUESTS per connection)."""
        session = await self.get_session(sid)
        language = session.get("language") or self.templates.default_language
        email = data.get("email", "") if isinstance(data, dict) else None
        if not isinstance(email, str) or len(email) > 254 or not valid_text(email):
            return refused("bad_request", "transcript_request must be an object {email?}")
        session_id = session.get("session_id")
        if not session_id:
            return refused("no_session", self._text(session, "no_session"))
        if self.transcripts is None:
            text = self.templates.render(language, "transcript_unavailable")
            return refused("unavailable", text)
        retry_after = self.session_limiter.check_connection(sid)
        if retry_after:
            return {"ok": False, "error": self._slow_down(sid, session, retry_after)}
        try:
            answer = await self.transcripts.request(session_id, email)
        except StoreUnavailable as exc:
            log.error("transcript_request: %s", exc)
            return refused("store_unavailable", self._text(session, "store_unavailable"))
        return answer.ack()
