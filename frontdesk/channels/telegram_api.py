"""The Telegram Bot API client (https://core.telegram.org/bots/api), through a configurable URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from frontdesk.channels.http import ApiError, JsonApi, Reply, RetryPolicy

MAX_TEXT = 4096  # sendMessage text, in UTF-16 units after entity parsing
MAX_CALLBACK_DATA = 64  # InlineKeyboardButton.callback_data, in bytes
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")


class TelegramApi(JsonApi):
    name = "Telegram"

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, token: str, policy: RetryPolicy
    ) -> None:
        super().__init__(session, base_url, policy, secrets=(token,))
        self._token = token

    def retry_after(self, reply: Reply) -> float | None:
        # {"ok": false, "error_code": 429, "parameters": {"retry_after": 5}}
        if isinstance(reply.body, dict):
            parameters = reply.body.get("parameters")
            if isinstance(parameters, dict):
                value = parameters.get("retry_after")
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return float(value)
        return reply.retry_after

    async def call(
        self,
        method: str,
        params: Mapping[str, Any],
        attempts: int | None = None,
        timeout: float | None = None,
    ) -> Any:
        """One Bot API method; its `result`, or ApiError."""
        body = await self.post(
            f"bot{self._token}/{method}", params, method, None, attempts, timeout
        )
        if not isinstance(body, dict) or body.get("ok") is not True:
            raise ApiError(f"Telegram {method} answered an unexpected body")
        return body.get("result")

    async def send_message(
        self, chat_id: str, text: str, reply_markup: Mapping[str, Any] | None = None
    ) -> Any:
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if reply_markup:
            params["reply_markup"] = dict(reply_markup)
        return await self.call("sendMessage", params)

    async def send_photo(self, chat_id: str, url: str) -> Any:
        return await self.call("sendPhoto", {"chat_id": chat_id, "photo": url})

    async def send_file(
        self, chat_id: str, data: bytes, name: str, mime: str, photo: bool, caption: str = ""
    ) -> Any:
        """sendPhoto (an image) or sendDocument (anything else), uploaded as multipart."""
        method, field = ("sendPhoto", "photo") if photo else ("sendDocument", "document")

        def form() -> aiohttp.FormData:
            body = aiohttp.FormData()
            body.add_field("chat_id", chat_id)
            if caption:
                body.add_field("caption", caption[:1024])
            body.add_field(field, data, filename=name, content_type=mime)
            return body

        reply = await self.post(f"bot{self._token}/{method}", {}, method, form=form)
        if not isinstance(reply, dict) or reply.get("ok") is not True:
            raise ApiError(f"Telegram {method} answered an unexpected body")
        return reply.get("result")

    async def get_file(self, file_id: str, limit: int) -> bytes:
        """getFile, then the file's bytes (at most `limit` + 1) from the file URL."""
        result = await self.call("getFile", {"file_id": file_id})
        path = result.get("file_path") if isinstance(result, dict) else None
        if not isinstance(path, str) or not path:
            raise ApiError("Telegram getFile answered no file_path")
        return await self.download(f"{self.base_url}/file/bot{self._token}/{path}", limit, "file")

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        # Best effort: one quick try; a late "typing…" is worthless.
        return await self.call(
            "sendChatAction", {"chat_id": chat_id, "action": action}, attempts=1, timeout=5
        )

    async def answer_callback_query(self, callback_query_id: str) -> Any:
        return await self.call(
            "answerCallbackQuery", {"callback_query_id": callback_query_id}, attempts=2, timeout=5
        )

    async def get_updates(self, offset: int | None, timeout: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"timeout": timeout, "allowed_updates": list(ALLOWED_UPDATES)}
        if offset is not None:
            params["offset"] = offset
        result = await self.call("getUpdates", params, attempts=1, timeout=timeout + 10)
        if not isinstance(result, list):
            raise ApiError("Telegram getUpdates answered an unexpected result")
        return [u for u in result if isinstance(u, dict)]

    async def set_webhook(
        self, url: str, secret_token: str, allowed: Sequence[str] = ALLOWED_UPDATES
    ) -> Any:
        params = {"url": url, "secret_token": secret_token, "allowed_updates": list(allowed)}
        return await self.call("setWebhook", params)

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook", {})
