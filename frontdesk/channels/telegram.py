"""The Telegram channel: Bot API webhook or long polling in, sendMessage out."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from frontdesk.channels.common import BackgroundTasks, split_text
from frontdesk.channels.http import ApiError
from frontdesk.channels.telegram_api import MAX_TEXT, TelegramApi
from frontdesk.channels.telegram_keyboard import CallbackData, button_title, inline_keyboard
from frontdesk.channels.telegram_updates import Update, identity, parse_update
from frontdesk.core.messages import Inbound, Outbound
from frontdesk.core.outbox import Outbox
from frontdesk.core.router import Router
from frontdesk.core.templates import Templates
from frontdesk.errors import BadInput, FrontdeskError, StoreUnavailable
from frontdesk.store.base import Store

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEDUPE_TTL = 7 * 24 * 3600  # Telegram keeps undelivered updates for 24 hours


def conversation_id(chat_id: str) -> str:
    return f"{CHANNEL}:{chat_id}"


class TelegramChannel:
    """Turns Telegram updates into Inbound messages and sends the conversation's replies."""

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
        self.api = api
        self.router = router
        self.outbox = outbox
        self.store = store
        self.callbacks = callbacks
        self.templates = templates
        self._secret = secret_token.encode()
        self.max_message_length = max_message_length
        self.tasks = BackgroundTasks("telegram")
        self._poller: asyncio.Task[None] | None = None

    # -- inbound: webhook -------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /channels/telegram: check the secret token, answer at once, process after."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not self._secret or not hmac.compare_digest(given, self._secret):
            why = "a wrong secret token" if given else f"no {SECRET_HEADER} header"
            log.warning("refused a Telegram webhook call from %s: %s", request.remote, why)
            raise web.HTTPForbidden(text="secret token does not match")
        try:
            update = parse_update(json.loads(await request.read()))
        except (ValueError, RecursionError) as exc:  # not JSON, or nested beyond reason
            log.warning("refused a Telegram webhook body that is not JSON: %s", exc)
            raise web.HTTPBadRequest(text="the body must be a JSON Update") from None
        except BadInput as exc:
            log.warning("refused a Telegram webhook body: %s", exc.message)
            raise web.HTTPBadRequest(text=exc.message) from None
        try:
            fresh = await self._first_time(update)
        except StoreUnavailable as exc:
            log.error("Telegram update %s not accepted: %s", update.update_id, exc)
            raise web.HTTPServiceUnavailable(text="storage unavailable; try again") from None
        if fresh:
            self.tasks.spawn(self.process(update), f"update {update.update_id}")
        return web.Response(text="ok" if fresh else "duplicate")

    async def _first_time(self, update: Update) -> bool:
        return await self.store.first_time(CHANNEL, str(update.update_id), DEDUPE_TTL)

    # -- inbound: long polling (development) ------------------------------------------------

    def start_polling(self, timeout: int = 25) -> None:
        self._poller = self.tasks.spawn(self._poll(timeout), "getUpdates")

    async def _poll(self, timeout: int) -> None:
        offset: int | None = None
        delay = 1.0
        log.info("polling Telegram for updates (getUpdates)")
        while True:
            try:
                updates = await self.api.get_updates(offset, timeout)
            except ApiError as exc:
                log.error("Telegram polling: %s; again in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            delay = 1.0
            for raw in updates:
                update_id = raw.get("update_id")
                if isinstance(update_id, int):
                    offset = max(offset or 0, update_id + 1)
                try:
                    update = parse_update(raw)
                    if await self._first_time(update):
                        await self.process(update)
                except BadInput as exc:
                    log.warning("skipped a Telegram update: %s", exc.message)
                except FrontdeskError as exc:
                    log.error("Telegram update %s failed: %s", update_id, exc)
                except Exception:
                    log.exception("Telegram update %s failed", update_id)

    async def close(self) -> None:
        """Stop polling and finish the updates already accepted."""
        if self._poller is not None:
            self._poller.cancel()
        await self.tasks.finish()

    # -- inbound: one update ----------------------------------------------------------------

    async def process(self, update: Update) -> None:
        if update.kind == "ignored":
            log.debug("Telegram update %s ignored (nothing for the bot)", update.update_id)
            return
        conv = conversation_id(update.chat_id)
        code = update.user.get("language_code")
        language = self.templates.pick_language(code if isinstance(code, str) else None)
        meta = await self.router.open_conversation(conv, CHANNEL, language, identity(update.user))
        language = meta.get("language", language)
        if update.kind == "button":
            await self._button(conv, language, update)
        elif update.kind == "text" and len(update.text) > self.max_message_length:
            limit = self.max_message_length
            reply = self.templates.render(
                language, "message_too_long", length=len(update.text), limit=limit
            )
            await self._keep_unread(conv, update, reply)
        elif update.kind == "text":
            await self.router.accept(
                Inbound(conv, CHANNEL, update.text, update.payload, update.client_msg_id)
            )
        else:
            key = "edited_message" if update.kind == "edit" else "unsupported_message"
            await self._keep_unread(conv, update, self.templates.render(language, key))

    async def _button(self, conv: str, language: str, update: Update) -> None:
        try:
            await self.api.answer_callback_query(update.callback_id)
        except ApiError as exc:
            log.warning("answerCallbackQuery for %s: %s", conv, exc)
        payload = await self.callbacks.decode(update.callback_data)
        if payload is None:
            await self.outbox.send(
                conv, CHANNEL, Outbound(self.templates.render(language, "button_expired"))
            )
            return
        title = button_title(update.message, update.callback_data) or payload
        await self.router.accept(Inbound(conv, CHANNEL, title, payload, update.client_msg_id))

    async def _keep_unread(self, conv: str, update: Update, reply: str) -> None:
        inbound = Inbound(conv, CHANNEL, update.text, client_msg_id=update.client_msg_id)
        await self.router.keep_unread(inbound, reply)

    # -- outbound ---------------------------------------------------------------------------

    async def deliver(self, conversation_id: str, entry: Mapping[str, Any]) -> None:
        """Send one transcript entry; on final failure log it (the transcript keeps it)."""
        chat_id = conversation_id.removeprefix(f"{CHANNEL}:")
        try:
            await self._send(conversation_id, chat_id, entry)
        except (ApiError, StoreUnavailable) as exc:
            log.error(
                "message %s to %s not delivered (kept in the transcript): %s",
                entry.get("seq"),
                conversation_id,
                exc,
            )

    async def _send(self, conversation_id: str, chat_id: str, entry: Mapping[str, Any]) -> None:
        text = str(entry.get("text") or "")
        if text and entry.get("role") == "agent" and entry.get("sender_name"):
            text = f"{entry['sender_name']}: {text}"
        markup: dict[str, Any] | None = None
        quick_replies = entry.get("quick_replies") or []
        if quick_replies:
            buttons = [
                (str(q["title"]), await self.callbacks.encode(str(q["payload"] or q["title"])))
                for q in quick_replies
            ]
            markup = inline_keyboard(buttons)
            if not text:
                meta = await self.store.get_conversation(conversation_id)
                language = meta.get("language", self.templates.default_language)
                text = self.templates.render(language, "choose_option")
        parts = split_text(text, MAX_TEXT) if text else []
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            await self.api.send_message(chat_id, part, markup if last else None)
        if entry.get("image"):
            await self.api.send_photo(chat_id, str(entry["image"]))

    async def typing(
        self, conversation_id: str, active: bool, in_reply_to: int, activity: str = ""
    ) -> None:
        if not active:
            return  # Telegram clears "typing…" by itself when the message arrives
        try:
            await self.api.send_chat_action(conversation_id.removeprefix(f"{CHANNEL}:"))
        except ApiError as exc:
            log.warning("typing indicator for %s: %s", conversation_id, exc)

    async def event(self, conversation_id: str, name: str, data: Mapping[str, Any]) -> None:
        """Of the widget's extra events only an agent typing means something here; the
        others (agent joined, queue status, …) also arrive as text messages."""
        if name == "agent_typing":
            await self.typing(conversation_id, bool(data.get("typing")), 0)
