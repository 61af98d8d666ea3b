"""The Telegram channel: Bot API webhook or long polling in, sendMessage out."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiohttp import web

from frontdesk.channels.http import ApiError
from frontdesk.channels.platform import Outgoing, PlatformChannel
from frontdesk.channels.telegram_api import MAX_TEXT, TelegramApi
from frontdesk.channels.telegram_keyboard import CallbackData, button_title, inline_keyboard
from frontdesk.channels.telegram_updates import Update, identity, parse_update
from frontdesk.core.outbox import Outbox
from frontdesk.core.router import Router
from frontdesk.core.templates import Templates
from frontdesk.errors import BadInput, FrontdeskError, StoreUnavailable
from frontdesk.store.base import Store

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramChannel(PlatformChannel[Update]):
    """Turns Telegram updates into Inbound messages and sends the conversation's replies."""

    channel = CHANNEL
    title = "Telegram"
    max_text = MAX_TEXT

    def __init__(
        self,
        api: TelegramApi,
        router: Router,
        outbox: Outbox,
        store: Store,
        callbacks: CallbackData,
        templates: Templates,
        secret_token: str,
        max_message_length: int,
    ) -> None:
        super().__init__(router, outbox, store, templates, max_message_length)
        self.api = api
        self.callbacks = callbacks
        self._secret = secret_token.encode()
        self._poller: asyncio.Task[None] | None = None

    # -- inbound: webhook -------------------------------------------------------------------

    def authenticate(self, request: web.Request, body: bytes) -> None:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not self._secret or not hmac.compare_digest(given, self._secret):
            why = "a wrong secret token" if given else f"no {SECRET_HEADER} header"
            log.warning("refused a Telegram webhook call from %s: %s", request.remote, why)
            raise web.HTTPForbidden(text="secret token does not match")

    def parse(self, raw: Any) -> list[Update]:
        return [parse_update(raw)]

    # -- inbound: long polling (development) ------------------------------------------------

    def start_polling(self, timeout: int = 25) -> None:
        self._poller = self.tasks.spawn(self._poll(timeout), "getUpdates")

    async def _poll(self, timeout: int) -> None:
        offset: int | None = None
        delay = 1.0
        log.info("polling Telegram for updates (getUpdates)")
        while True:
            try:
                for raw in await self.api.get_updates(offset, timeout):
                    await self._take_polled(raw)
                    update_id = raw.get("update_id")
                    if isinstance(update_id, int):
                        offset = max(offset or 0, update_id + 1)  # confirms it to Telegram
                delay = 1.0
            except (ApiError, StoreUnavailable) as exc:
                # An update not stored is not confirmed: the next getUpdates brings it again.
                log.error("Telegram polling: %s; again in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def _take_polled(self, raw: dict[str, Any]) -> None:
        """One fetched update; only StoreUnavailable escapes (to fetch it again later)."""
        try:
            await self.process(parse_update(raw))
        except StoreUnavailable:
            raise
        except BadInput as exc:
            log.warning("skipped a Telegram update: %s", exc.message)
        except FrontdeskError as exc:
            log.error("Telegram update %s failed: %s", raw.get("update_id"), exc)
        except Exception:
            log.exception("Telegram update %s failed", raw.get("update_id"))

    async def close(self) -> None:
        """Stop polling and finish the work already started."""
        if self._poller is not None:
            self._poller.cancel()
        await super().close()

    # -- inbound: one update ----------------------------------------------------------------

    async def process(self, update: Update) -> None:
        if update.kind == "ignored":
            log.debug("Telegram update %s ignored (nothing for the bot)", update.update_id)
            return
        code = update.user.get("language_code")
        language = self.templates.pick_language(code if isinstance(code, str) else None)
        conv, language = await self.open(update.chat_id, language, identity(update.user))
        if update.kind == "button":
            await self._button(conv, language, update)
        elif update.kind == "file":

            async def fetch(limit: int) -> bytes:
                return await self.api.get_file(update.file_id, limit)

            msg_id, name = update.client_msg_id, update.file_name
            await self.take_file(
                conv, language, update.text, msg_id, name, fetch, update.file_size, update.payload
            )
        else:
            msg_id = update.client_msg_id
            await self.take(conv, language, update.kind, update.text, update.payload, msg_id)

    async def _button(self, conv: str, language: str, update: Update) -> None:
        try:
            await self.api.answer_callback_query(update.callback_id)
        except ApiError as exc:
            log.warning("answerCallbackQuery for %s: %s", conv, exc)
        title = button_title(update.message, update.callback_data)
        payload = await self.callbacks.decode(update.callback_data)
        if payload is None:  # kept (once, like any press) with a word that it has expired
            reply = self.templates.render(language, "button_expired")
            await self.keep_unread(conv, title or "[button]", update.client_msg_id, reply)
            return
        await self.take(conv, language, "text", title or payload, payload, update.client_msg_id)

    # -- outbound ---------------------------------------------------------------------------

    async def send(self, user: str, outgoing: Outgoing) -> None:
        markup: dict[str, Any] | None = None
        if outgoing.quick_replies:
            buttons = [
                (q.title, await self.callbacks.encode(q.payload)) for q in outgoing.quick_replies
            ]
            markup = inline_keyboard(buttons)
        for index, part in enumerate(outgoing.parts):
            last = index == len(outgoing.parts) - 1
            await self.api.send_message(user, part, markup if last else None)
        if outgoing.image:
            await self.api.send_photo(user, outgoing.image)
        if outgoing.file is not None and self.files is not None:
            file = outgoing.file
            data = await self.files.read(file.id)
            await self.api.send_file(user, data, file.name, file.type, file.image)

    async def show_typing(self, user: str, active: bool) -> None:
        if active:  # Telegram clears "typing…" by itself when the message arrives
            await self.api.send_chat_action(user)
