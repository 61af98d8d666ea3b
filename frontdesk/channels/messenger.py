"""The Facebook Messenger channel: the Messenger Platform webhook in, the Send API out."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from frontdesk.channels.messenger_api import MAX_TEXT, MessengerApi, quick_replies
from frontdesk.channels.messenger_events import Event, parse_body
from frontdesk.channels.meta_webhook import MetaWebhook
from frontdesk.channels.platform import Outgoing, PlatformChannel
from frontdesk.core.outbox import Outbox
from frontdesk.core.router import Router
from frontdesk.core.templates import Templates
from frontdesk.store.base import Store

log = logging.getLogger(__name__)

CHANNEL = "messenger"


class MessengerChannel(PlatformChannel[Event]):
    """Turns Messenger webhook events into Inbound messages and sends the replies."""

    channel = CHANNEL
    title = "Messenger"
    max_text = MAX_TEXT
    received = "EVENT_RECEIVED"

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
        super().__init__(router, outbox, store, templates, max_message_length)
        self.api = api
        self._meta = MetaWebhook("Messenger", app_secret, verify_token)
        self._typing_on: set[str] = set()  # PSIDs shown "typing…"

    # -- inbound ----------------------------------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        return self._meta.verify(request)

    def authenticate(self, request: web.Request, body: bytes) -> None:
        self._meta.authenticate(request, body)

    def parse(self, raw: Any) -> list[Event]:
        return parse_body(raw)

    async def process(self, event: Event) -> None:
        language = self.templates.default_language  # webhooks carry no locale
        conv, language = await self.open(event.psid, language, {"channel_user": event.psid})
        if event.kind != "file":
            await self.take(conv, language, event.kind, event.text, event.payload, event.key)
            return
        for index, (kind, url) in enumerate(event.files):  # one message per photo or file
            key = event.key if index == 0 else f"{event.key}:{index}"

            async def fetch(limit: int, url: str = url) -> bytes:
                return await self.api.download(url, limit, "attachment")

            name = "photo" if kind == "image" else "file"
            await self.take_file(conv, language, event.text, key, name, fetch)

    # -- outbound ---------------------------------------------------------------------------

    async def send(self, user: str, outgoing: Outgoing) -> None:
        self._typing_on.discard(user)  # a message clears "typing…"
        messages: list[dict[str, Any]] = [{"text": part} for part in outgoing.parts]
        if outgoing.quick_replies and messages:
            messages[-1]["quick_replies"] = quick_replies(outgoing.quick_replies)
        if outgoing.image:
            image = {"type": "image", "payload": {"url": outgoing.image, "is_reusable": True}}
            messages.append({"attachment": image})
        if outgoing.file is not None and self.links is not None:
            # The Send API fetches it from our signed public link (PUBLIC_URL).
            kind = "image" if outgoing.file.image else "file"
            url = self.links.url(outgoing.file.id)
            messages.append({"attachment": {"type": kind, "payload": {"url": url}}})
        for message in messages:
            await self.api.send(user, message)

    async def show_typing(self, user: str, active: bool) -> None:
        if active:
            self._typing_on.add(user)
            await self.api.sender_action(user, "typing_on")
        elif user in self._typing_on:
            self._typing_on.discard(user)
            await self.api.sender_action(user, "typing_off")
