"""make_app(): the aiohttp application, one AppKey and one cleanup_ctx per resource."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import socketio
from aiohttp import web
from redis.asyncio import Redis

from frontdesk.botclient import BotClient
from frontdesk.channels.widget import CHANNEL as WIDGET
from frontdesk.channels.widget import WidgetChannel
from frontdesk.config import Settings
from frontdesk.core.outbox import Outbox
from frontdesk.core.router import Router
from frontdesk.core.templates import Templates
from frontdesk.store import RedisStore
from frontdesk.store.embedded import EmbeddedRedis

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
TEMPLATES = web.AppKey("templates", Templates)
SIO = web.AppKey("sio", socketio.AsyncServer)
REDIS = web.AppKey("redis", Redis)
STORE = web.AppKey("store", RedisStore)
BOT = web.AppKey("bot", BotClient)
ROUTER = web.AppKey("router", Router)
WIDGET_CHANNEL = web.AppKey("widget_channel", WidgetChannel)

SOCKETIO_CLIENT = Path("node_modules/socket.io-client/dist/socket.io.min.js")
WIDGET_FILES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    embedded = EmbeddedRedis(settings.data_dir) if settings.embedded_redis else None
    url = await embedded.start() if embedded else settings.redis_url
    if embedded:
        log.info("embedded Redis persisted to %s", embedded.path)
    client: Redis = Redis.from_url(url, health_check_interval=30, socket_timeout=5)
    app[REDIS] = client
    app[STORE] = RedisStore(client)
    yield
    await client.aclose()
    if embedded:
        await embedded.stop()


async def bot_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    connector = aiohttp.TCPConnector(limit=200, limit_per_host=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        app[BOT] = BotClient(session, settings.rasa_urls, settings.rasa_timeout)
        yield


async def router_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = app[STORE]
    outbox = Outbox(store)
    router = Router(store, app[BOT], outbox, app[TEMPLATES])
    widget = WidgetChannel(
        router, store, app[TEMPLATES], settings.max_message_length, settings.history_limit
    )
    outbox.register(WIDGET, widget)
    app[SIO].register_namespace(widget)
    app[ROUTER] = router
    app[WIDGET_CHANNEL] = widget
    yield
    await router.idle()


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


async def health(request: web.Request) -> web.Response:
    redis_ok = await request.app[STORE].ping()
    rasa = await request.app[BOT].status()
    rasa_ok = all("error" not in v for v in rasa.values())
    body = {"redis": redis_ok, "rasa": {url: "error" not in v for url, v in rasa.items()}}
    return web.json_response(body, status=200 if redis_ok and rasa_ok else 503)


def make_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[SETTINGS] = settings
    app[TEMPLATES] = Templates(settings.flows_dir, settings.default_language)
    origins: str | list[str] = (
        "*" if settings.cors_origins == ("*",) else list(settings.cors_origins)
    )
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        cors_allowed_origins=origins,
        max_http_buffer_size=max(64 * 1024, settings.max_message_length * 8),
    )
    sio.attach(app)
    app[SIO] = sio
    app.cleanup_ctx.extend([redis_ctx, bot_ctx, router_ctx])
    app.router.add_get("/", demo_page)
    app.router.add_get("/healthz", health)
    app.router.add_get("/widget/vendor/socket.io.min.js", socketio_client)
    app.router.add_get("/widget/{name}", widget_file)
    return app
