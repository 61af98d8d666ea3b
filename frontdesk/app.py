"""make_app(): the aiohttp application, its routes and the order its resources start in
(each resource's cleanup_ctx is in frontdesk.resources, its key in frontdesk.keys)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from frontdesk.channels.emitting import LocalManager
from frontdesk.channels.guard import GuardedServer, connection_guard, frame_limit, packet_limit
from frontdesk.channels.packets import SafePacket
from frontdesk.channels.ratelimit import AddressLimiter
from frontdesk.channels.safeguards import address_limits
from frontdesk.channels.whatsapp_flows import load_whatsapp_flows
from frontdesk.config import Settings
from frontdesk.console import make_console
from frontdesk.console.auth import load_secret
from frontdesk.console.keys import SECRET
from frontdesk.console.proxies import TrustedProxies
from frontdesk.core.flows import load_flows
from frontdesk.core.hours import load_hours
from frontdesk.core.metrics import Metrics
from frontdesk.core.templates import Templates
from frontdesk.errors import StoreUnavailable
from frontdesk.files.web import serve_file
from frontdesk.keys import (
    ADDRESSES,
    BOT,
    FLOWS,
    HOURS,
    MESSENGER_CHANNEL,
    METRICS,
    OUTBOX,
    REDIS,
    ROUTER,
    SETTINGS,
    SIO,
    STORE,
    TELEGRAM_CHANNEL,
    TEMPLATES,
    WHATSAPP_CHANNEL,
    WHATSAPP_FLOWS,
    WIDGET_CHANNEL,
)
from frontdesk.mail.web import feedback_page, mail_ctx
from frontdesk.resources import (
    address_limits_ctx,
    bot_ctx,
    messenger_ctx,
    redis_ctx,
    retention_ctx,
    router_ctx,
    telegram_ctx,
    turns_ctx,
    whatsapp_ctx,
)
from frontdesk.socketio_redis import listener_problem, socketio_redis_ctx

# Keys tests and tools reach through frontdesk.app (they live in frontdesk.keys and
# frontdesk.console.keys).
__all__ = ["OUTBOX", "REDIS", "ROUTER", "SECRET", "SIO", "STORE", "make_app"]

log = logging.getLogger(__name__)

SOCKETIO_CLIENT = Path("node_modules/socket.io-client/dist/socket.io.min.js")
WIDGET_FILES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}
HEALTH_TIMEOUT = 2.0


async def widget_upload(request: web.Request) -> web.Response:
    """POST /widget/upload: a customer's photo or file (frontdesk.files.web)."""
    channel = request.app[WIDGET_CHANNEL]
    if channel.extras is None:
        raise web.HTTPNotFound(text="uploads are off")
    return await channel.extras.upload(request, channel.access, channel.store, channel.templates)


async def telegram_webhook(request: web.Request) -> web.Response:
    return await request.app[TELEGRAM_CHANNEL].webhook(request)


async def messenger_verify(request: web.Request) -> web.Response:
    return await request.app[MESSENGER_CHANNEL].verify(request)


async def messenger_webhook(request: web.Request) -> web.Response:
    return await request.app[MESSENGER_CHANNEL].webhook(request)


async def whatsapp_verify(request: web.Request) -> web.Response:
    return await request.app[WHATSAPP_CHANNEL].verify(request)


async def whatsapp_webhook(request: web.Request) -> web.Response:
    return await request.app[WHATSAPP_CHANNEL].webhook(request)


async def console_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console/")


async def demo_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(request.app[SETTINGS].widget_dir / "demo.html")


async def widget_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = request.app[SETTINGS].widget_dir / name
    kind = WIDGET_FILES.get(path.suffix)
    if kind is None or "/" in name or not path.is_file():
        raise web.HTTPNotFound(text=f"no widget file {name!r}")
    return web.FileResponse(path, headers={"Content-Type": kind, "Cache-Control": "no-cache"})


async def socketio_client(request: web.Request) -> web.StreamResponse:
    path = request.app[SETTINGS].widget_dir / SOCKETIO_CLIENT
    if not path.is_file():
        raise web.HTTPServiceUnavailable(text="socket.io-client is not installed: run `make run`")
    return web.FileResponse(path, headers={"Content-Type": "text/javascript"})


async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].export()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


async def health(request: web.Request) -> web.Response:
    """200 when Redis and a Rasa server answer (and, with SOCKETIO_REDIS=on, this process's
    Socket.IO Redis listener hears its own heartbeat); 503 naming what is down. A Rasa of
    several that does not answer is named under `degraded` (the others take its
    conversations: frontdesk.botclient), so a balancer does not take every gateway out for it.
    Every dependency is checked at once, each within HEALTH_TIMEOUT."""
    redis_check = asyncio.wait_for(request.app[STORE].ping(), HEALTH_TIMEOUT)
    rasa_check = request.app[BOT].status(HEALTH_TIMEOUT)
    redis_result, rasa = await asyncio.gather(redis_check, rasa_check, return_exceptions=True)
    redis_ok = redis_result is True
    if isinstance(rasa, BaseException):
        rasa = {url: {"error": str(rasa) or type(rasa).__name__} for url in request.app[BOT].urls}
    body: dict[str, Any] = {
        "redis": redis_ok,
        "rasa": {url: "error" not in v for url, v in rasa.items()},
    }
    rasa_down = [f"rasa {url}: {v['error']}" for url, v in rasa.items() if "error" in v]
    some_rasa = len(rasa_down) < len(rasa)
    down = ([] if redis_ok else ["redis"]) + ([] if some_rasa else rasa_down)
    if some_rasa and rasa_down:
        body["degraded"] = rasa_down
    if request.app[SETTINGS].socketio_redis:
        deaf = listener_problem(request.app)
        body["socketio_redis"] = deaf is None
        if deaf:
            down.append(deaf)
    if down:
        body["down"] = down
    return web.json_response(body, status=200 if not down else 503)


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """An unexpected exception in a handler is logged once, with its traceback, and answered
    with a clear error instead of aiohttp's bare 500 page."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except StoreUnavailable as exc:
        log.error("%s %s: %s", request.method, request.path, exc)
        return web.json_response(
            {"error": "store_unavailable", "message": "The message store is unavailable."},
            status=503,
        )
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return web.json_response(
            {
                "error": "internal_error",
                "message": "Something went wrong on our side; "
                "it has been logged. Please try again.",
            },
            status=500,
        )


def make_app(settings: Settings) -> web.Application:
    # Limits per client address, counted in this process (frontdesk.channels.ratelimit).
    addresses = AddressLimiter(address_limits(settings))
    guard = connection_guard(addresses, TrustedProxies(settings.trusted_proxies))
    app = web.Application(client_max_size=1024 * 1024, middlewares=[errors_middleware, guard])
    app[SETTINGS] = settings
    app[ADDRESSES] = addresses
    app[TEMPLATES] = Templates(settings.flows_dir, settings.default_language)
    app[FLOWS] = load_flows(settings.flows_dir)
    app[HOURS] = load_hours(settings.flows_dir)
    app[METRICS] = Metrics()
    app[SECRET] = load_secret(settings.secret_key, settings.data_dir)
    origins: str | list[str] = (
        "*" if settings.cors_origins == ("*",) else list(settings.cors_origins)
    )
    sio = GuardedServer(  # counts connections per address; frames that are not Engine.IO
        addresses,
        async_mode="aiohttp",
        # an unreadable packet is answered, not raised; one too long, unread
        serializer=SafePacket.sized(packet_limit(settings.max_message_length)),
        cors_allowed_origins=origins,
        max_http_buffer_size=frame_limit(settings.max_message_length),
        client_manager=LocalManager(),  # no Task per emit; a disconnect leaves its own rooms
    )
    sio.attach(app)
    app[SIO] = sio
    app.cleanup_ctx.append(redis_ctx)
    app.cleanup_ctx.append(retention_ctx)  # before anything can open a conversation
    app.cleanup_ctx.append(address_limits_ctx)  # limits per address, across processes
    if settings.socketio_redis:
        app.cleanup_ctx.append(socketio_redis_ctx)
    app.cleanup_ctx.extend([bot_ctx, router_ctx])
    app.cleanup_ctx.append(mail_ctx(settings))  # answers to left messages, by e-mail
    app.router.add_get("/feedback/{token}", feedback_page)
    app.router.add_get("/", demo_page)
    app.router.add_get("/console", console_redirect)
    secure_cookie = settings.base_url.startswith("https")
    console = make_console(app[SECRET], secure_cookie, settings.trusted_proxies)
    app.add_subapp("/console/", console)
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/widget/vendor/socket.io.min.js", socketio_client)
    app.router.add_route("POST", "/widget/upload", widget_upload)
    app.router.add_route("OPTIONS", "/widget/upload", widget_upload)
    app.router.add_get("/files/{file_id}", serve_file)
    app.router.add_get("/widget/{name}", widget_file)
    if settings.telegram_enabled:
        app.cleanup_ctx.append(telegram_ctx)
        if settings.telegram_mode == "webhook":
            app.router.add_post("/channels/telegram", telegram_webhook)
    if settings.messenger_enabled:
        app.cleanup_ctx.append(messenger_ctx)
        app.router.add_get("/channels/messenger", messenger_verify)
        app.router.add_post("/channels/messenger", messenger_webhook)
    if settings.whatsapp_enabled:  # flows/whatsapp.yml is checked before anything starts
        languages = app[TEMPLATES].languages
        flows = load_whatsapp_flows(settings.flows_dir, languages, settings.default_language)
        app[WHATSAPP_FLOWS] = flows
        app.cleanup_ctx.append(whatsapp_ctx)
        app.router.add_get("/channels/whatsapp", whatsapp_verify)
        app.router.add_post("/channels/whatsapp", whatsapp_webhook)
    app.cleanup_ctx.append(turns_ctx)  # last: every channel is registered by then
    return app
