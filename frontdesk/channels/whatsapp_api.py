"""The WhatsApp Cloud API client (Graph API `<phone number id>/messages` and the media
endpoints), through a configurable base URL, with the access token as a Bearer header."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from frontdesk.channels.http import ApiError, JsonApi, Reply, RetryPolicy

MAX_TEXT = 4096  # text.body
# Graph API error codes that mean "later, not never": rate limits, temporary outages, and
# WhatsApp's own throughput limits (130429: too many messages, 131056: too many to one user).
_TRANSIENT_CODES = {1, 2, 4, 17, 32, 613, 80007, 130429, 131056, 131000}
OUTSIDE_WINDOW = 131047  # "Re-engagement message": more than 24 h since the customer wrote


class OutsideWindow(ApiError):
    """Meta refused free text because the customer-service window has closed."""


class WhatsAppApi(JsonApi):
    name = "WhatsApp"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        phone_number_id: str,
        policy: RetryPolicy,
    ) -> None:
        super().__init__(session, base_url, policy, secrets=(token,))
        self.phone_number_id = phone_number_id

    @staticmethod
    def open_session(token: str) -> aiohttp.ClientSession:
        """The session every call goes through: the token rides in its Authorization header
        (the media URLs Meta hands out need it too)."""
        return aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})

    def is_transient(self, reply: Reply) -> bool:
        if super().is_transient(reply):
            return True
        error = _error(reply.body)
        return bool(error.get("is_transient")) or error.get("code") in _TRANSIENT_CODES

    async def send(self, to: str, message: Mapping[str, Any], attempts: int | None = None) -> Any:
        """One message (`{"type": ..., <type>: {...}}`) to the customer `to` (their wa_id)."""
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        what = f"send {message.get('type', 'message')}"
        path = f"{self.phone_number_id}/messages"
        return await self.post(path, {**body, **message}, what, attempts=attempts)

    async def _post_once(
        self,
        path: str,
        body: Mapping[str, Any],
        params: Mapping[str, str] | None,
        timeout: float,
        form: Callable[[], aiohttp.FormData] | None = None,
    ) -> Reply:
        reply = await super()._post_once(path, body, params, timeout, form)
        if reply.status >= 400 and _error(reply.body).get("code") == OUTSIDE_WINDOW:
            raise OutsideWindow("WhatsApp refused free text: the 24-hour window has closed")
        return reply

    async def typing(self, message_id: str) -> Any:
        """Mark the customer's message read and show "typing…" (until we answer, or 25 s)."""
        body = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_id,
            "typing_indicator": {"type": "text"},
        }
        path = f"{self.phone_number_id}/messages"
        return await self.post(path, body, "typing indicator", attempts=1, timeout=5)

    async def upload(self, data: bytes, name: str, mime: str) -> str:
        """Upload a file for sending; its media id."""

        def form() -> aiohttp.FormData:
            fields = aiohttp.FormData()
            fields.add_field("messaging_product", "whatsapp")
            fields.add_field("type", mime)
            fields.add_field("file", data, filename=name, content_type=mime)
            return fields

        path = f"{self.phone_number_id}/media"
        result = await self.post(path, {}, "media upload", form=form)
        media_id = result.get("id") if isinstance(result, dict) else None
        if not isinstance(media_id, str) or not media_id:
            raise ApiError("WhatsApp media upload answered without a media id")
        return media_id

    async def media(self, media_id: str, limit: int) -> bytes:
        """A customer's photo or file: its URL from GET /<media id>, then the bytes (at most
        `limit` + 1: more means too large)."""
        info = await self._get_json(f"{self.base_url}/{media_id}", "media lookup")
        url = info.get("url") if isinstance(info, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ApiError("WhatsApp media lookup answered without a URL")
        size = info.get("file_size")
        if isinstance(size, (int, str)) and str(size).isdigit() and int(size) > limit:
            return b"\0" * (limit + 1)  # too large: not fetched at all
        return await self.download(url, limit, "media download")

    async def _get_json(self, url: str, what: str) -> Any:
        timeout = aiohttp.ClientTimeout(total=self.policy.timeout)
        try:
            async with self.session.get(url, timeout=timeout) as resp:
                try:
                    data: Any = await resp.json(content_type=None)
                except ValueError:
                    data = None
                if resp.status >= 400:
                    message = str(_error(data).get("message") or "no JSON error description")
                    detail = self.redact(message)[:300]
                    raise ApiError(f"WhatsApp {what} answered {resp.status}: {detail}", resp.status)
                return data
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = self.redact(str(exc)) or "no answer in time"
            raise ApiError(f"WhatsApp {what} failed: {type(exc).__name__}: {detail}") from None


def _error(body: Any) -> dict[str, Any]:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}
