"""The Facebook Messenger channel: the Messenger Platform webhook in, the Send API out."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from frontdesk.channels.common import BackgroundTasks, split_text
from frontdesk.channels.http import ApiError
from frontdesk.channels.messenger_api import MAX_TEXT, MessengerApi, quick_replies
from frontdesk.channels.messenger_events import Event, parse_body
from frontdesk.core.messages import Inbound
from frontdesk.core.outbox import Outbox
from frontdesk.core.router import Router
from frontdesk.core.templates import Templates
from frontdesk.errors import BadInput, StoreUnavailable
from frontdesk.store.base import Store

log = logging.getLogger(__name__)

CHANNEL = "messenger"
SIGNATURE_HEADER = "X-Hub-Signature-256"
DEDUPE_TTL = 7 * 24 * 3600


def conversation_id(psid: str) -> str:
    return f"{CHANNEL}:{psid}"


class MessengerChannel:
    """Turns Messenger webhook events into Inbound messages and sends the replies."""

    def __init__(
        self,
        api: MessengerApi,
        router: Router,
        outbox: Outbox,
        store: Store,
        templates: Templates,
        app_secret: str,
        verify_token: str,
        max_message_length: int,
    ) -> None:
        self.api = api
        self.router = router
        self.outbox = outbox
        self.store = store
        self.templates = templates
        self._app_secret = app_secret.encode()
        self._verify_token = verify_token.encode()
        self.max_message_length = max_message_length
        self.tasks = BackgroundTasks("messenger")
        self._typing_on: set[str] = set()

    # -- inbound ----------------------------------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        """GET /channels/messenger: the platform's subscription check."""
        mode = request.query.get("hub.mode", "")
        token = request.query.get("hub.verify_token", "").encode()
        challenge = request.query.get("hub.challenge", "")
        if mode != "subscribe" or not challenge:
            log.warning("refused a Messenger verification request: hub.mode=%r", mode[:20])
            raise web.HTTPForbidden(text="expected hub.mode=subscribe and a hub.challenge")
        if not hmac.compare_digest(token, self._verify_token):
            log.warning("refused a Messenger verification request: wrong hub.verify_token")
            raise web.HTTPForbidden(text="verify token does not match")
        return web.Response(text=challenge)

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /channels/messenger: check the signature, answer at once, process after."""
        body = await request.read()
        given = request.headers.get(SIGNATURE_HEADER, "").encode()
        digest = hmac.new(self._app_secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, f"sha256={digest}".encode()):
            why = "a wrong signature" if given else f"no {SIGNATURE_HEADER} header"
            log.warning("refused a Messenger webhook call from %s: %s", request.remote, why)
            raise web.HTTPForbidden(text="signature does not match")
        try:
            events = parse_body(json.loads(body))
        except (ValueError, RecursionError) as exc:  # not JSON, or nested beyond reason
            log.warning("refused a Messenger webhook body that is not JSON: %s", exc)
            raise web.HTTPBadRequest(text="the body must be JSON") from None
        except BadInput as exc:
            log.warning("refused a Messenger webhook body: %s", exc.message)
            raise web.HTTPBadRequest(text=exc.message) from None
        try:
            fresh = [e for e in events if await self._first_time(e)]
        except StoreUnavailable as exc:
            log.error("Messenger events not accepted: %s", exc)
            raise web.HTTPServiceUnavailable(text="storage unavailable; try again") from None
        if fresh:
            self.tasks.spawn(self._process_all(fresh), f"{len(fresh)} event(s)")
        return web.Response(text="EVENT_RECEIVED")

    async def _first_time(self, event: Event) -> bool:
        return await self.store.first_time(CHANNEL, event.key, DEDUPE_TTL)

    async def _process_all(self, events: Sequence[Event]) -> None:
        for event in events:  # in order: one body may hold several messages of one person
            await self.process(event)

    async def process(self, event: Event) -> None:
        conv = conversation_id(event.psid)
        language = self.templates.default_language  # webhooks carry no locale
        details = {"channel_user": event.psid}
        meta = await self.router.open_conversation(conv, CHANNEL, language, details)
        language = meta.get("language", language)
        if event.kind == "text" and len(event.text) > self.max_message_length:
            limit = self.max_message_length
            reply = self.templates.render(
                language, "message_too_long", length=len(event.text), limit=limit
            )
            await self._keep_unread(conv, event, reply)
        elif event.kind == "text":
            await self.router.accept(Inbound(conv, CHANNEL, event.text, event.payload, event.key))
        else:
            key = "edited_message" if event.kind == "edit" else "unsupported_message"
            await self._keep_unread(conv, event, self.templates.render(language, key))

    async def close(self) -> None:
        await self.tasks.finish()

    async def _keep_unread(self, conv: str, event: Event, reply: str) -> None:
        inbound = Inbound(conv, CHANNEL, event.text, client_msg_id=event.key)
        await self.router.keep_unread(inbound, reply)

    # -- outbound ---------------------------------------------------------------------------

    async def deliver(self, conversation_id: str, entry: Mapping[str, Any]) -> None:
        """Send one transcript entry; on final failure log it (the transcript keeps it)."""
        psid = conversation_id.removeprefix(f"{CHANNEL}:")
        self._typing_on.discard(conversation_id)  # a message clears "typing…"
        try:
            for message in await self._messages(conversation_id, entry):
                await self.api.send(psid, message)
        except (ApiError, StoreUnavailable) as exc:
            log.error(
                "message %s to %s not delivered (kept in the transcript): %s",
                entry.get("seq"),
                conversation_id,
                exc,
            )

    async def _messages(
        self, conversation_id: str, entry: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        text = str(entry.get("text") or "")
        if text and entry.get("role") == "agent" and entry.get("sender_name"):
            text = f"{entry['sender_name']}: {text}"
        replies = quick_replies(entry.get("quick_replies") or [])
        if replies and not text:
            meta = await self.store.get_conversation(conversation_id)
            language = meta.get("language", self.templates.default_language)
            text = self.templates.render(language, "choose_option")
        messages: list[dict[str, Any]] = [{"text": part} for part in split_text(text, MAX_TEXT)]
        if not text:
            messages = []
        if replies:
            messages[-1]["quick_replies"] = replies
        if entry.get("image"):
            image = {"type": "image", "payload": {"url": str(entry["image"]), "is_reusable": True}}
            messages.append({"attachment": image})
        return messages

    async def typing(
        self, conversation_id: str, active: bool, in_reply_to: int, activity: str = ""
    ) -> None:
        if not active and conversation_id not in self._typing_on:
            return
        psid = conversation_id.removeprefix(f"{CHANNEL}:")
        try:
            if active:
                self._typing_on.add(conversation_id)
                await self.api.sender_action(psid, "typing_on")
            else:
                self._typing_on.discard(conversation_id)
                await self.api.sender_action(psid, "typing_off")
        except ApiError as exc:
            log.warning("typing indicator for %s: %s", conversation_id, exc)

    async def event(self, conversation_id: str, name: str, data: Mapping[str, Any]) -> None:
        """Of the widget's extra events only an agent typing means something here; the
        others (agent joined, queue status, …) also arrive as text messages."""
        if name == "agent_typing":
            await self.typing(conversation_id, bool(data.get("typing")), 0)
