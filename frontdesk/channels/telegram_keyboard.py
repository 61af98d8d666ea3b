"""Quick replies as Telegram inline keyboards; payloads over 64 bytes go by a short id."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from frontdesk.channels.telegram_api import MAX_CALLBACK_DATA
from frontdesk.errors import StoreUnavailable

SHORT_PREFIX = "fdq:"  # callback_data that stands for a longer payload kept in Redis
SHORT_TTL = 90 * 24 * 3600  # a button keeps working for 90 days


class CallbackData:
    """Maps payloads to callback_data (1-64 bytes) and back."""

    def __init__(self, redis: Redis, ttl_seconds: int = SHORT_TTL) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    async def encode(self, payload: str) -> str:
        data = payload.encode()
        if 0 < len(data) <= MAX_CALLBACK_DATA and not payload.startswith(SHORT_PREFIX):
            return payload
        short = SHORT_PREFIX + hashlib.sha256(data).hexdigest()[:32]
        try:
            await self._redis.set(_key(short), payload, ex=self._ttl)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"could not keep a quick reply payload: {exc}") from exc
        return short

    async def decode(self, callback_data: str) -> str | None:
        """The payload behind callback_data; None for a short id that has expired."""
        if not callback_data.startswith(SHORT_PREFIX):
            return callback_data
        try:
            raw = await self._redis.get(_key(callback_data))
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"could not read a quick reply payload: {exc}") from exc
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)


def _key(short: str) -> str:
    return f"fd:tg:cb:{short}"


def inline_keyboard(buttons: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """InlineKeyboardMarkup for (title, callback_data) pairs: short titles such as survey
    scores share rows of up to five, longer ones get a row each."""
    if all(len(title) <= 4 for title, _ in buttons):
        rows = [list(buttons[i : i + 5]) for i in range(0, len(buttons), 5)]
    else:
        rows = [[button] for button in buttons]
    return {
        "inline_keyboard": [
            [{"text": title, "callback_data": data} for title, data in row] for row in rows
        ]
    }


def button_title(message: Mapping[str, Any] | None, callback_data: str) -> str | None:
    """The text of the pressed button, read from the message's inline keyboard."""
    markup = (message or {}).get("reply_markup")
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and button.get("callback_data") == callback_data:
                text = button.get("text")
                return text if isinstance(text, str) else None
    return None
