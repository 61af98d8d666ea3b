"""Small real aiohttp servers standing in for api.telegram.org and graph.facebook.com.

They record every call, answer the way the real APIs document, and fail on demand
(429 with retry_after, 5xx). Tests wait on the recorded calls, never on the clock."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    method: str  # Bot API method name, or "messages" for the Send API
    body: dict[str, Any]
    query: dict[str, str]
    at: float  # event-loop time when it arrived


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeApi:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.changed = asyncio.Condition()
        self.failures: dict[str, deque[Failure]] = defaultdict(deque)
        self.app = web.Application()
        self.url = ""  # set once the server listens

    async def record(self, method: str, request: web.Request) -> tuple[Call, Failure | None]:
        if request.content_type == "multipart/form-data":  # an upload: fields, files' bytes
            body: dict[str, Any] = {}
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    body[name] = {"filename": value.filename, "type": value.content_type}
                    body[name]["bytes"] = data
                else:
                    body[name] = value
        else:
            raw = await request.read()
            body = json.loads(raw) if raw else {}
        call = Call(method, body, dict(request.query), asyncio.get_running_loop().time())
        async with self.changed:
            self.calls.append(call)
            self.changed.notify_all()
        queue = self.failures.get(method)
        return call, (queue.popleft() if queue else None)

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        where: Callable[[Call], bool] = lambda c: True,
        timeout: float = 30,
    ) -> list[Call]:
        """The first `count` calls of `method` matching `where`, once they have arrived."""

        def matching() -> list[Call]:
            return [c for c in self.of(method) if where(c)]

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: len(matching()) >= count), timeout)
        return matching()[:count]


class FakeTelegram(FakeApi):
    """The Bot API: POST {url}/bot<token>/<method> with a JSON body."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.updates: list[dict[str, Any]] = []  # served by getUpdates
        self._message_ids = itertools.count(1000)
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, bytes)
        self.app.router.add_post("/bot{token}/{method}", self.handle)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self.download)

    def add_file(self, file_id: str, data: bytes, path: str) -> None:
        """A file a customer sent: getFile names its path, /file/bot<token>/<path> serves it."""
        self.files[file_id] = (path, data)

    async def download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for path, data in self.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    def fail_next(self, method: str, status: int, retry_after: int | None = None) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status}
        if status == 429:
            body["description"] = f"Too Many Requests: retry after {retry_after}"
            body["parameters"] = {"retry_after": retry_after}
        else:
            body["description"] = "Internal Server Error" if status >= 500 else "Bad Request"
        self.failures[method].append(Failure(status, body))

    async def queue_update(self, update: dict[str, Any]) -> None:
        async with self.changed:
            self.updates.append(update)
            self.changed.notify_all()

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            body = {"ok": False, "error_code": 401, "description": "Unauthorized"}
            return web.json_response(body, status=401)
        method = request.match_info["method"]
        call, failure = await self.record(method, request)
        if failure is not None:
            return web.json_response(failure.body, status=failure.status)
        if method == "getUpdates":
            return web.json_response({"ok": True, "result": await self._updates(call.body)})
        if method == "getFile":
            file_id = call.body.get("file_id", "")
            if file_id not in self.files:
                body = {"ok": False, "error_code": 400, "description": "Bad Request: no file"}
                return web.json_response(body, status=400)
            path, data = self.files[file_id]
            result = {"file_id": file_id, "file_size": len(data), "file_path": path}
            return web.json_response({"ok": True, "result": result})
        if method == "sendMessage":
            chat_id = call.body["chat_id"]
            result = {
                "message_id": next(self._message_ids),
                "from": {"id": 42, "is_bot": True, "first_name": "Shop", "username": "shop_bot"},
                "chat": {"id": int(chat_id), "type": "private"},
                "date": 1746268800,
                "text": call.body["text"],
            }
            if "reply_markup" in call.body:
                result["reply_markup"] = call.body["reply_markup"]
            return web.json_response({"ok": True, "result": result})
        return web.json_response({"ok": True, "result": True})

    async def _updates(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(body.get("offset") or 0)

        def pending() -> list[dict[str, Any]]:
            return [u for u in self.updates if u["update_id"] >= offset]

        # A short long-poll: the real API holds the request up to `timeout` seconds.
        async with self.changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait_for(lambda: bool(pending())), 0.5)
        return pending()


class FakeGraph(FakeApi):
    """The Send API: POST {url}/me/messages?access_token=<page token>."""

    def __init__(self, page_token: str, version: str = "v19.0") -> None:
        super().__init__()
        self.page_token = page_token
        self.version = version
        self._ids = itertools.count(1)
        self.cdn: dict[str, bytes] = {}  # what the attachment URLs in webhooks point at
        self.app.router.add_post(f"/{version}/me/messages", self.handle)
        self.app.router.add_get("/cdn/{name}", self.serve_cdn)

    async def serve_cdn(self, request: web.Request) -> web.Response:
        data = self.cdn.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="image/jpeg")

    def fail_next(self, status: int, code: int = 2, transient: bool = True) -> None:
        error = {
            "message": "An unexpected error has occurred. Please retry your request later.",
            "type": "OAuthException",
            "code": code,
            "is_transient": transient,
            "fbtrace_id": "AbCdEf123",
        }
        self.failures["messages"].append(Failure(status, {"error": error}))

    async def handle(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") != self.page_token:
            error = {
                "message": "Invalid OAuth access token.",
                "type": "OAuthException",
                "code": 190,
            }
            return web.json_response({"error": error}, status=400)
        call, failure = await self.record("messages", request)
        if failure is not None:
            return web.json_response(failure.body, status=failure.status)
        recipient = call.body.get("recipient", {}).get("id")
        if "sender_action" in call.body:
            return web.json_response({"recipient_id": recipient})
        return web.json_response({"recipient_id": recipient, "message_id": f"m_{next(self._ids)}"})


class FakeWhatsApp(FakeApi):
    """The WhatsApp Cloud API (Graph API, Bearer token): POST {url}/<phone number id>/messages
    and /media, GET {url}/<media id> (the media's URL), and that URL (the bytes)."""

    def __init__(self, token: str, phone_number_id: str, version: str = "v25.0") -> None:
        super().__init__()
        self.token = token
        self.phone_number_id = phone_number_id
        self.version = version
        self._ids = itertools.count(1)
        self._uploads = itertools.count(1)  # uploaded media: up1, up2, …
        self.media: dict[str, tuple[str, bytes]] = {}  # media id -> (mime type, bytes)
        self.closed_windows: set[str] = set()  # numbers whose free text Meta refuses (131047)
        base = f"/{version}/{phone_number_id}"
        self.app.router.add_post(f"{base}/messages", self.handle)
        self.app.router.add_post(f"{base}/media", self.upload)
        self.app.router.add_get(f"/{version}/{{media_id}}", self.lookup)
        self.app.router.add_get("/lookaside/{media_id}", self.serve)

    def add_media(self, media_id: str, data: bytes, mime: str = "image/jpeg") -> None:
        """A photo or file a customer sent: its id arrives in the webhook."""
        self.media[media_id] = (mime, data)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Ab1"}
        return web.json_response({"error": error}, status=status)

    def fail_next(self, status: int, code: int = 2, method: str = "messages") -> None:
        error = {"message": "Service temporarily unavailable", "code": code, "fbtrace_id": "Ab1"}
        self.failures[method].append(Failure(status, {"error": error}))

    async def handle(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, 190, "Invalid OAuth access token.")
        call, failure = await self.record("messages", request)
        if failure is not None:
            return web.json_response(failure.body, status=failure.status)
        if call.body.get("status") == "read":
            return web.json_response({"success": True})
        to = str(call.body.get("to", ""))
        if call.body.get("type") != "template" and to in self.closed_windows:
            return self._error(400, 131047, "Re-engagement message")
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.out{next(self._ids)}"}],
            }
        )

    async def upload(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, 190, "Invalid OAuth access token.")
        call, failure = await self.record("media", request)
        if failure is not None:
            return web.json_response(failure.body, status=failure.status)
        media_id = f"up{next(self._uploads)}"
        file = call.body.get("file") or {}
        self.media[media_id] = (str(file.get("type", "")), bytes(file.get("bytes", b"")))
        return web.json_response({"id": media_id})

    async def lookup(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, 190, "Invalid OAuth access token.")
        media_id = request.match_info["media_id"]
        await self.record("media_lookup", request)
        if media_id not in self.media:
            return self._error(404, 100, "Unsupported get request.")
        mime, data = self.media[media_id]
        url = str(request.url.with_path(f"/lookaside/{media_id}").with_query({}))
        body = {"messaging_product": "whatsapp", "url": url, "mime_type": mime, "id": media_id}
        return web.json_response({**body, "file_size": len(data)})

    async def serve(self, request: web.Request) -> web.Response:
        if not self._authorized(request):  # the media URL needs the token too
            return web.Response(status=401)
        found = self.media.get(request.match_info["media_id"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[1], content_type=found[0] or "application/octet-stream")
