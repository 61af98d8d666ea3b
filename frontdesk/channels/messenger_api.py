"""The Messenger Send API client (Graph API `me/messages`), through a configurable URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from frontdesk.channels.common import shorten
from frontdesk.channels.http import JsonApi, Reply, RetryPolicy
from frontdesk.core.messages import QuickReply

MAX_TEXT = 2000  # message.text
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
MAX_PAYLOAD = 1000
# Graph API error codes that mean "later, not never": rate limits and temporary outages.
_TRANSIENT_CODES = {1, 2, 4, 17, 32, 613}


class MessengerApi(JsonApi):
    name = "Messenger"

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, page_token: str, policy: RetryPolicy
    ) -> None:
        super().__init__(session, base_url, policy, secrets=(page_token,))
        self._token = page_token

    def is_transient(self, reply: Reply) -> bool:
        if super().is_transient(reply):
            return True
        error = reply.body.get("error") if isinstance(reply.body, dict) else None
        if isinstance(error, dict):
            return bool(error.get("is_transient")) or error.get("code") in _TRANSIENT_CODES
        return False

    async def send(self, psid: str, message: Mapping[str, Any], attempts: int | None = None) -> Any:
        body = {"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": dict(message)}
        return await self._send(body, "send", attempts)

    async def sender_action(self, psid: str, action: str) -> Any:
        body = {"recipient": {"id": psid}, "sender_action": action}
        return await self._send(body, action, attempts=1, timeout=5)

    async def _send(
        self,
        body: Mapping[str, Any],
        what: str,
        attempts: int | None = None,
        timeout: float | None = None,
    ) -> Any:
        params = {"access_token": self._token}
        return await self.post("me/messages", body, what, params, attempts, timeout)


def quick_replies(items: Sequence[QuickReply]) -> list[dict[str, str]]:
    """At most 13 text quick replies, titles cut to 20 characters."""
    return [
        {
            "content_type": "text",
            "title": shorten(q.title, MAX_QUICK_REPLY_TITLE),
            "payload": q.payload[:MAX_PAYLOAD],
        }
        for q in items[:MAX_QUICK_REPLIES]
    ]
