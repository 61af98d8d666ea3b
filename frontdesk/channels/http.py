"""Calls to a messaging platform's HTTP API: timeouts, bounded retries, secrets kept out of logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from frontdesk.errors import FrontdeskError

log = logging.getLogger(__name__)


class ApiError(FrontdeskError):
    """A platform API call failed for good (after any retries); the message holds no secrets."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4  # total tries, including the first
    timeout: float = 10.0  # per try, seconds
    backoff: float = 0.5  # first delay after a 5xx or a network error; doubles each time
    max_delay: float = 60.0  # longest wait, also for a platform's retry_after


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # parsed JSON, or None when the body was not JSON
    retry_after: float | None = None


class JsonApi:
    """POSTs JSON to one platform; retries 429 (after the delay it asks for) and 5xx."""

    name = "API"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        policy: RetryPolicy,
        secrets: Sequence[str] = (),
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self._secrets = tuple(s for s in secrets if s)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<secret>")
        return text

    def retry_after(self, reply: Reply) -> float | None:
        """How long the platform asked us to wait, if it did (overridden per platform)."""
        return reply.retry_after

    def is_transient(self, reply: Reply) -> bool:
        return reply.status == 429 or reply.status >= 500

    async def post(
        self,
        path: str,
        body: Mapping[str, Any],
        what: str,
        params: Mapping[str, str] | None = None,
        attempts: int | None = None,
        timeout: float | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
    ) -> Any:
        """POST `body` (or a fresh `form()` each try: a multipart upload) to base_url + path;
        the parsed JSON of the first success, or ApiError."""
        tries = attempts or self.policy.attempts
        delay = self.policy.backoff
        for attempt in range(1, tries + 1):
            reply: Reply | None = None
            try:
                reply = await self._post_once(
                    path, body, params, timeout or self.policy.timeout, form
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {self.redact(str(exc)) or 'no answer in time'}"
            else:
                if reply.status < 400:
                    return reply.body
                problem = f"answered {reply.status}: {self.redact(_describe(reply.body))[:300]}"
                if not self.is_transient(reply):
                    raise ApiError(f"{self.name} {what} {problem}", reply.status)
            if attempt == tries:
                status = reply.status if reply else None
                raise ApiError(f"{self.name} {what} failed after {tries} tries: {problem}", status)
            wait = self.retry_after(reply) if reply else None
            if wait is None:
                wait, delay = delay, delay * 2
            wait = min(max(wait, 0.0), self.policy.max_delay)
            log.warning(
                "%s %s %s; try %d of %d again in %.1f s",
                self.name,
                what,
                problem,
                attempt + 1,
                tries,
                wait,
            )
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _post_once(
        self,
        path: str,
        body: Mapping[str, Any],
        params: Mapping[str, str] | None,
        timeout: float,
        form: Callable[[], aiohttp.FormData] | None = None,
    ) -> Reply:
        url = f"{self.base_url}/{path.lstrip('/')}"
        payload: dict[str, Any] = {"data": form()} if form is not None else {"json": dict(body)}
        async with self.session.post(
            url, params=params, timeout=aiohttp.ClientTimeout(total=timeout), **payload
        ) as resp:
            try:
                data: Any = await resp.json(content_type=None)
            except ValueError:
                data = None
            header = resp.headers.get("Retry-After", "")
            retry_after = float(header) if header.replace(".", "", 1).isdigit() else None
            return Reply(resp.status, data, retry_after)

    async def download(self, url: str, limit: int, what: str) -> bytes:
        """GET a file: at most `limit` + 1 bytes (more means too large), or ApiError."""
        try:
            async with self.session.get(
                url, timeout=aiohttp.ClientTimeout(total=self.policy.timeout * 3)
            ) as resp:
                if resp.status >= 400:
                    raise ApiError(f"{self.name} {what} answered {resp.status}", resp.status)
                data = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    data.extend(chunk)
                    if len(data) > limit:
                        break
                return bytes(data[: limit + 1])
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = self.redact(str(exc)) or "no answer in time"
            raise ApiError(f"{self.name} {what} failed: {type(exc).__name__}: {detail}") from None


def _describe(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # Graph API
            return str(error.get("message") or error)
        if body.get("description"):  # Bot API
            return str(body["description"])
    return "no JSON error description" if body is None else str(body)
