"""The HTTP client for Rasa: REST channel, tracker and parse, over a pool of Rasa servers."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson

from frontdesk.channels.packets import FastJson
from frontdesk.core.messages import BotReply
from frontdesk.errors import BotUnavailable
from frontdesk.knowledge.live import LiveTexts

JSON_BODY = {"Content-Type": "application/json"}


log = logging.getLogger(__name__)


DOWN_FOR = 5.0  # seconds a Rasa that could not be reached goes to the back of the line


class Unreachable(BotUnavailable):
    """Nothing answered at the Rasa URL (refused, reset, gone mid-request): the turn did not
    complete there, so another Rasa may take it."""


class BotClient:
    """Talks to one or more Rasa servers; a conversation always goes to the same one while it
    answers, and to the next one when it cannot be reached. The Rasa servers share their
    tracker store (bot/endpoints.sentinel.yml), so the next one knows the conversation."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: Sequence[str],
        timeout: float,
        texts: LiveTexts | None = None,
    ) -> None:
        if not urls:
            raise ValueError("at least one Rasa URL is needed")
        self._session = session
        self.urls = tuple(urls)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._down_until: dict[str, float] = {}
        self.texts = texts  # the published answer texts (/console/knowledge), relayed instead

    def url_for(self, conversation_id: str) -> str:
        """Sticky choice: the same conversation lands on the same Rasa server."""
        return self.urls[zlib.crc32(conversation_id.encode()) % len(self.urls)]

    def _order(self, conversation_id: str) -> list[str]:
        """The sticky Rasa, then the others in turn; those unreachable a moment ago last."""
        first = zlib.crc32(conversation_id.encode()) % len(self.urls)
        order = [*self.urls[first:], *self.urls[:first]]
        now = time.monotonic()
        swapping = self.texts.swapping if self.texts else ""  # its model is being replaced
        return sorted(
            order, key=lambda url: self._down_until.get(url, 0.0) > now or url == swapping
        )

    async def send(
        self, conversation_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> BotReply:
        """One bot turn through the bot's frontdesk channel (bot/channels/frontdesk.py):
        Rasa's REST-channel messages plus what the bot understood, in one request."""
        body: dict[str, Any] = {"sender": conversation_id, "message": text}
        if metadata:
            body["metadata"] = metadata
        order = self._order(conversation_id) if len(self.urls) > 1 else self.urls
        for index, base in enumerate(order):
            url = f"{base}/webhooks/frontdesk/webhook"
            try:
                result = await self._request("POST", url, body)
                break
            except Unreachable as exc:
                self._down_until[base] = time.monotonic() + DOWN_FOR
                if index == len(order) - 1:
                    raise
                log.warning("%s; trying %s", exc, order[index + 1])
        if not isinstance(result, dict) or not isinstance(result.get("messages"), list):
            raise BotUnavailable(f"Rasa answered an unexpected body from {url}")
        messages = [m for m in result["messages"] if isinstance(m, dict)]
        understood = result.get("understood")
        understood = understood if isinstance(understood, dict) else {}
        if self.texts is not None:
            language = str((metadata or {}).get("language") or "en")
            messages = self.texts.apply(messages, understood, language)
        return BotReply(messages, understood)

    async def status(self, timeout: float | None = None) -> dict[str, Any]:
        """Health of every Rasa server, asked at once: URL -> status dict or error text."""
        limit = aiohttp.ClientTimeout(total=timeout) if timeout else None

        async def one(url: str) -> Any:
            try:
                return await self._request("GET", f"{url}/status", None, limit)
            except BotUnavailable as exc:
                return {"error": str(exc)}

        results = await asyncio.gather(*(one(url) for url in self.urls))
        return dict(zip(self.urls, results, strict=True))

    async def _request(
        self, method: str, url: str, body: Any, timeout: aiohttp.ClientTimeout | None = None
    ) -> Any:
        try:
            data = None if body is None else FastJson.dumps(body)  # orjson, json if need be
            headers = None if body is None else JSON_BODY
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout or self._timeout
            ) as resp:
                if resp.status >= 400:
                    detail = (await resp.text())[:200]
                    raise BotUnavailable(f"Rasa answered {resp.status} for {url}: {detail}")
                return orjson.loads(await resp.read())  # in C: a turn's answer is ~5 KB
        except TimeoutError as exc:
            raise BotUnavailable(f"Rasa did not answer {url} in time") from exc
        except aiohttp.ClientConnectionError as exc:
            raise Unreachable(f"Rasa could not be reached at {url}: {exc}") from exc
        except (aiohttp.ClientError, ValueError) as exc:  # orjson's JSONDecodeError too
            raise BotUnavailable(f"Rasa could not be reached at {url}: {exc}") from exc
