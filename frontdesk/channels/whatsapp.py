"""The WhatsApp Business channel: the Cloud API webhook in, the Cloud API's messages out.

Inbound: `GET /channels/whatsapp` answers Meta's subscription check (hub.verify_token, constant
time); `POST /channels/whatsapp` takes a body only with a valid `X-Hub-Signature-256` (HMAC-SHA256
of the raw body under the app secret, constant time; 403 otherwise, nothing read). Replays: a
message is stored, and answered, once per message id (wamid: the platform base); a message sent
more than REPLAY_WINDOW ago is acknowledged and ignored, since Meta retries a webhook for at
most 7 days, so anything older can only be a replay.

Outbound: within 24 hours of the customer's last message, text, reply buttons or a list,
photos and files; after that, the approved template of flows/whatsapp.yml, whose parameter is
the message's text (frontdesk.channels.whatsapp_window, whatsapp_shapes)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from frontdesk.channels.common import split_text
from frontdesk.channels.meta_webhook import MetaWebhook
from frontdesk.channels.platform import Kind, Outgoing, PlatformChannel
from frontdesk.channels.telegram_keyboard import CallbackData
from frontdesk.channels.whatsapp_api import MAX_TEXT, OutsideWindow, WhatsAppApi
from frontdesk.channels.whatsapp_events import Message, parse_body
from frontdesk.channels.whatsapp_flows import WhatsAppFlows
from frontdesk.channels.whatsapp_shapes import (
    body_limit,
    interactive,
    media,
    template,
    template_texts,
    text,
)
from frontdesk.channels.whatsapp_window import CustomerWindows
from frontdesk.core.outbox import Outbox
from frontdesk.core.router import Router
from frontdesk.core.templates import Templates
from frontdesk.errors import StoreUnavailable
from frontdesk.store.base import Store

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
REPLAY_WINDOW = 7 * 24 * 3600 + 3600  # Meta's 7 days of retries, and an hour of clock skew


class WhatsAppChannel(PlatformChannel[Message]):
    """Turns Cloud API webhook messages into Inbound messages and sends the replies."""

    channel = CHANNEL
    title = "WhatsApp"
    max_text = MAX_TEXT

    def __init__(
        self,
        api: WhatsAppApi,
        router: Router,
        outbox: Outbox,
        store: Store,
        templates: Templates,
        callbacks: CallbackData,
        windows: CustomerWindows,
        flows: WhatsAppFlows,
        app_secret: str,
        verify_token: str,
        max_message_length: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(router, outbox, store, templates, max_message_length)
        self.api = api
        self.callbacks = callbacks
        self.windows = windows
        self.flows = flows
        self.clock = clock
        self._meta = MetaWebhook("WhatsApp", app_secret, verify_token)

    # -- inbound ----------------------------------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        return self._meta.verify(request)

    def authenticate(self, request: web.Request, body: bytes) -> None:
        self._meta.authenticate(request, body)

    def parse(self, raw: Any) -> list[Message]:
        return parse_body(raw, self.api.phone_number_id)

    async def process(self, message: Message) -> None:
        now = self.clock()
        sent = min(message.timestamp or now, now)
        if sent < now - REPLAY_WINDOW:
            log.warning(
                "ignored WhatsApp message %s: sent %.0f days ago, older than any retry by Meta",
                message.key,
                (now - sent) / 86400,
            )
            return
        await self.windows.seen(message.wa_id, sent, message.key)
        language = self.flows.language_of(message.wa_id) or self.templates.default_language
        details = {"channel_user": f"+{message.wa_id}"}
        if message.name:
            details["customer_name"] = message.name
        conv, language = await self.open(message.wa_id, language, details)
        if message.kind == "button":
            payload = await self.callbacks.decode(message.payload)
            if payload is None:  # kept (once, like any tap) with a word that it has expired
                reply = self.templates.render(language, "button_expired")
                await self.keep_unread(conv, message.text, message.key, reply)
                return
            await self.take(conv, language, "text", message.text, payload, message.key)
        elif message.kind == "file":

            async def fetch(limit: int) -> bytes:
                return await self.api.media(message.media_id, limit)

            await self.take_file(
                conv,
                language,
                message.text,
                message.key,
                message.file_name,
                fetch,
                caption=message.caption,
            )
        else:
            kind: Kind = "text" if message.kind == "text" else "unsupported"
            await self.take(conv, language, kind, message.text, message.payload, message.key)

    # -- outbound ---------------------------------------------------------------------------

    async def send(self, user: str, outgoing: Outgoing) -> None:
        """Free-form within the customer-service window, the approved template after it (or
        when Meta says the window has closed)."""
        if not (await self.windows.last(user)).open(self.clock()):
            await self._send_template(user, outgoing)
            return
        try:
            await self._send_free(user, outgoing)
        except OutsideWindow:
            log.warning("WhatsApp window of %s closed on Meta's side; sending the template", user)
            await self._send_template(user, outgoing)

    async def _send_free(self, user: str, outgoing: Outgoing) -> None:
        parts = list(outgoing.parts)
        choices_message: dict[str, Any] | None = None
        if outgoing.quick_replies and parts:
            choices = [
                (q.title, await self.callbacks.encode(q.payload)) for q in outgoing.quick_replies
            ]
            pieces = split_text(parts.pop(), body_limit(len(choices)))
            parts.extend(pieces[:-1])  # the buttons go under the last piece of the text
            button = self.flows.button(await self._language(user))
            choices_message = interactive(pieces[-1], choices, button)
        for part in parts:
            await self.api.send(user, text(part))
        if choices_message is not None:
            await self.api.send(user, choices_message)
        if outgoing.image:
            await self.api.send(user, media("image", link=outgoing.image))
        if outgoing.file is not None and self.files is not None:
            file = outgoing.file
            media_id = await self.api.upload(await self.files.read(file.id), file.name, file.type)
            kind = "image" if file.image else "document"
            await self.api.send(user, media(kind, media_id, name=file.name))

    async def _send_template(self, user: str, outgoing: Outgoing) -> None:
        """The message's words as the approved template's parameter: buttons cannot go in it
        (the customer answers in words, which reopens the window); a photo or file is named."""
        words = " ".join(outgoing.parts)
        if outgoing.file is not None:
            words = f"{words} [{outgoing.file.name}]".strip()
        elif outgoing.image and not words:
            words = outgoing.image
        code = self.flows.template_language(await self._language(user))
        for piece in template_texts(words, self.flows.template_max_text):
            await self.api.send(user, template(self.flows.template_name, code, piece))

    async def _language(self, user: str) -> str:
        meta = await self.store.get_conversation(self.conversation_id(user))
        return meta.get("language") or self.templates.default_language

    async def show_typing(self, user: str, active: bool) -> None:
        if not active:  # WhatsApp clears "typing…" when the answer arrives
            return
        try:
            last = await self.windows.last(user)
        except StoreUnavailable as exc:
            log.warning("typing indicator for %s: %s", user, exc)
            return
        if last.message_id and last.open(self.clock()):
            await self.api.typing(last.message_id)
