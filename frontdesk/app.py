"""make_app(): the aiohttp application, one AppKey and one cleanup_ctx per resource."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from aiohttp import web
from redis.asyncio import BlockingConnectionPool, Redis

from frontdesk.botclient import BotClient
from frontdesk.channels.http import RetryPolicy
from frontdesk.channels.messenger import CHANNEL as MESSENGER
from frontdesk.channels.messenger import MessengerChannel
from frontdesk.channels.messenger_api import MessengerApi
from frontdesk.channels.packets import SafePacket
from frontdesk.channels.safeguards import Safeguards
from frontdesk.channels.telegram import CHANNEL as TELEGRAM
from frontdesk.channels.telegram import TelegramChannel
from frontdesk.channels.telegram_api import TelegramApi
from frontdesk.channels.telegram_keyboard import CallbackData
from frontdesk.channels.widget import CHANNEL as WIDGET
from frontdesk.channels.widget import WidgetChannel
from frontdesk.channels.widget_files import WidgetFiles
from frontdesk.config import Settings
from frontdesk.console import make_console
from frontdesk.console.auth import load_secret
from frontdesk.console.keys import DESK, REPORTS, SECRET, THROTTLE
from frontdesk.console.namespace import AgentNamespace
from frontdesk.console.throttle import LoginThrottle, ThrottlePolicy
from frontdesk.core.build import build_core
from frontdesk.core.flows import Flows, load_flows
from frontdesk.core.hours import Hours, load_hours
from frontdesk.core.later import Later
from frontdesk.core.metrics import Metrics
from frontdesk.core.outbox import Outbox
from frontdesk.core.prechat import Prechat, load_prechat
from frontdesk.core.router import Router
from frontdesk.core.templates import Templates
from frontdesk.core.waits import load_wait_config
from frontdesk.erasure import customer_erasers, file_store
from frontdesk.errors import StoreUnavailable
from frontdesk.files.storage import FileLinks
from frontdesk.files.web import FILE_LINKS, FILES, serve_file
from frontdesk.mail.web import INBOX, MAIL_STORE, feedback_page, mail_ctx
from frontdesk.reports import Reports
from frontdesk.store import RedisStore
from frontdesk.store.agents import PROCESS_TTL, AgentStore
from frontdesk.store.cases import CaseStore
from frontdesk.store.embedded import EmbeddedRedis
from frontdesk.store.mail import MailStore
from frontdesk.store.retention import Retention
from frontdesk.store.turns import RedisTurns

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
TEMPLATES = web.AppKey("templates", Templates)
SIO = web.AppKey("sio", socketio.AsyncServer)
REDIS = web.AppKey("redis", Redis)
REDIS_URL = web.AppKey("redis_url", str)
STORE = web.AppKey("store", RedisStore)
CASES = web.AppKey("cases", CaseStore)
BOT = web.AppKey("bot", BotClient)
ROUTER = web.AppKey("router", Router)
FLOWS = web.AppKey("flows", Flows)
HOURS = web.AppKey("hours", Hours)
METRICS = web.AppKey("metrics", Metrics)
WIDGET_CHANNEL = web.AppKey("widget_channel", WidgetChannel)
OUTBOX = web.AppKey("outbox", Outbox)
LATER = web.AppKey("later", Later)
TELEGRAM_CHANNEL = web.AppKey("telegram_channel", TelegramChannel)
MESSENGER_CHANNEL = web.AppKey("messenger_channel", MessengerChannel)

REDIS_CONNECTIONS = 100
REDIS_POOL_WAIT = 5.0  # seconds a command may wait for a free connection
SOCKETIO_CLIENT = Path("node_modules/socket.io-client/dist/socket.io.min.js")
WIDGET_FILES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}


def open_redis(url: str) -> Redis:
    """A Redis client for a redis://, rediss:// or unix:// URL (the embedded Redis is a unix
    socket; TCP-only options such as keepalive are passed only for TCP)."""
    options: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 5}
    if not url.startswith("unix:"):
        options["socket_keepalive"] = True
    # Under load a command waits (bounded) for a free connection instead of failing at once.
    pool = BlockingConnectionPool.from_url(
        url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_POOL_WAIT, **options
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    embedded = EmbeddedRedis(settings.data_dir) if settings.embedded_redis else None
    url = await embedded.start() if embedded else settings.redis_url
    if embedded:
        log.info("embedded Redis persisted to %s", embedded.path)
    client = open_redis(url)
    app[REDIS_URL] = url
    app[REDIS] = client
    app[STORE] = RedisStore(client)
    app[CASES] = CaseStore(client)
    app[MAIL_STORE] = MailStore(client)
    app[FILES] = file_store(settings)
    app[REPORTS] = Reports(client, app[CASES], app[STORE], app[HOURS].zone, settings.bot_data_dir)
    app[THROTTLE] = LoginThrottle(client, ThrottlePolicy.from_settings(settings))
    yield
    await client.aclose()
    if embedded:
        await embedded.stop()


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """Empty conversations expire after EMPTY_CONVERSATION_TTL; closed ones older than
    RETENTION_DAYS are swept hourly (frontdesk.store.retention)."""
    settings = app[SETTINGS]
    app[STORE].expire_empty_after(settings.empty_conversation_ttl)
    erasers = customer_erasers(app[REPORTS], app[MAIL_STORE], app[FILES])
    retention = Retention(app[STORE], app[CASES], settings.retention_days, erasers)
    sweeps = asyncio.create_task(retention.run())
    yield
    sweeps.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeps


async def socketio_redis_ctx(app: web.Application) -> AsyncIterator[None]:
    """SOCKETIO_REDIS=on: Socket.IO emits travel over Redis pub/sub, so a customer connected to
    one gateway process and an agent connected to another reach each other. The manager is made
    here, not in make_app, because the embedded Redis's URL is only known once it has started."""
    sio = app[SIO]
    manager = socketio.AsyncRedisManager(app[REDIS_URL], channel="frontdesk:socketio")
    manager.set_server(sio)
    sio.manager = manager
    # Listen now rather than at the first connection (python-socketio's default), and wait
    # (bounded) for the subscription, so no emit from another process is missed at start-up.
    sio.manager_initialized = True
    manager.initialize()
    deadline = time.monotonic() + 5
    while not (manager.pubsub is not None and manager.pubsub.subscribed):
        if time.monotonic() > deadline:
            log.warning("Socket.IO Redis manager not subscribed yet; continuing")
            break
        await asyncio.sleep(0.01)
    yield
    manager.thread.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await manager.thread
    if manager.redis is not None:
        await manager.redis.aclose()


async def bot_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    connector = aiohttp.TCPConnector(limit=200, limit_per_host=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        app[BOT] = BotClient(session, settings.rasa_urls, settings.rasa_timeout)
        yield


async def router_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    process_id = uuid.uuid4().hex
    agent_store = AgentStore(app[REDIS], process_id)
    files = app[FILES]
    links = FileLinks(app[SECRET], settings.attachment_link_ttl, settings.base_url)
    app[FILE_LINKS] = links
    core = build_core(
        app[STORE],
        app[CASES],
        agent_store,
        RedisTurns(app[REDIS]),
        process_id,
        app[BOT],
        app[TEMPLATES],
        app[FLOWS],
        app[HOURS],
        load_wait_config(settings.flows_dir),
        app[METRICS],
        mail=app[MAIL_STORE],
        mail_sending=bool(settings.smtp_url),
        secret=app[SECRET],
        base_url=settings.base_url,
        files=files,
        file_links=links,
    )
    prechat = Prechat(
        load_prechat(settings.flows_dir),
        core.conversations,
        app[CASES],
        core.outbox,
        app[TEMPLATES],
    )
    prechat.subscribe(core.bus)
    app[INBOX] = core.inbox
    router, waits = core.router, core.waits
    agents = AgentNamespace(core.desk, app[SECRET], core.inbox)
    agents.subscribe(core.bus)
    app[SIO].register_namespace(agents)
    app[DESK] = core.desk
    app[REPORTS].subscribe(core.bus)  # reports count the domain events into Redis
    widget = WidgetChannel(
        router,
        core.conversations,
        app[STORE],
        app[TEMPLATES],
        waits,
        settings.max_message_length,
        settings.history_limit,
        core.ratings,
        Safeguards.from_settings(app[SECRET], settings),
        extras=WidgetFiles(files, links, prechat, settings.cors_origins),
    )
    core.outbox.register(WIDGET, widget)
    app[SIO].register_namespace(widget)
    app[ROUTER] = router
    app[WIDGET_CHANNEL] = widget
    app[OUTBOX] = core.outbox
    app[LATER] = core.later
    heartbeat = asyncio.create_task(_heartbeat(agent_store))
    yield
    heartbeat.cancel()
    try:  # finish turns in flight, but never hold shutdown hostage to a backlog
        await asyncio.wait_for(router.idle(), SHUTDOWN_GRACE)
    except TimeoutError:
        log.warning(
            "shutdown: turns still in flight after %.0f s; handing them back", SHUTDOWN_GRACE
        )
        await _quietly(router.turns.hand_back())
    await waits.close()
    await core.later.close()
    await _quietly(agent_store.forget_process())


async def _quietly(work: Awaitable[None]) -> None:
    try:
        await work
    except StoreUnavailable as exc:
        log.warning("shutdown: %s", exc)


async def turns_ctx(app: web.Application) -> AsyncIterator[None]:
    """Say this process is alive, and run the turns a process that died left unanswered.
    Added last, so every channel can deliver before the first adoption."""
    task = asyncio.create_task(_adopt_orphans(app[ROUTER]))
    yield
    task.cancel()


async def _adopt_orphans(router: Router) -> None:
    while True:
        try:
            await router.turns.beat()
            adopted = await router.adopt_orphans()
            if adopted:
                log.warning("answering %d turn(s) a stopped gateway process left", adopted)
        except StoreUnavailable as exc:
            log.warning("turns: %s", exc)
        except Exception:
            log.exception("adopting turns failed")
        await asyncio.sleep(ADOPT_EVERY)


async def _heartbeat(agents: AgentStore) -> None:
    """Keep this gateway's agent connections counted (they expire if the process dies)."""
    while True:
        try:
            await agents.heartbeat()
        except StoreUnavailable as exc:
            log.warning("presence heartbeat: %s", exc)
        await asyncio.sleep(PROCESS_TTL / 3)


def _retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(attempts=settings.channel_api_attempts, timeout=settings.channel_api_timeout)


async def telegram_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as session:
        api = TelegramApi(
            session, settings.telegram_api_url, settings.telegram_token, _retry_policy(settings)
        )
        channel = TelegramChannel(
            api,
            app[ROUTER],
            app[OUTBOX],
            app[STORE],
            CallbackData(app[REDIS]),
            app[TEMPLATES],
            settings.telegram_secret_token,
            settings.max_message_length,
        )
        channel.files, channel.links = app[FILES], app[FILE_LINKS]
        app[OUTBOX].register(TELEGRAM, channel)
        app[TELEGRAM_CHANNEL] = channel
        if settings.telegram_mode == "polling":
            channel.start_polling()
        yield
        await channel.close()
        await app[ROUTER].idle()  # replies of turns still running need this session


async def messenger_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as session:
        api = MessengerApi(
            session,
            settings.messenger_api_url,
            settings.messenger_page_token,
            _retry_policy(settings),
        )
        channel = MessengerChannel(
            api,
            app[ROUTER],
            app[OUTBOX],
            app[STORE],
            app[TEMPLATES],
            settings.messenger_app_secret,
            settings.messenger_verify_token,
            settings.max_message_length,
        )
        channel.files, channel.links = app[FILES], app[FILE_LINKS]
        app[OUTBOX].register(MESSENGER, channel)
        app[MESSENGER_CHANNEL] = channel
        yield
        await channel.close()
        await app[ROUTER].idle()


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


HEALTH_TIMEOUT = 2.0
ADOPT_EVERY = 3.0  # seconds between looks for turns a stopped process left
SHUTDOWN_GRACE = 8.0  # seconds for turns in flight at shutdown


async def health(request: web.Request) -> web.Response:
    """200 when Redis and every Rasa server answer; 503 naming what is down. Every dependency
    is checked at once, each within HEALTH_TIMEOUT."""
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
    down = ([] if redis_ok else ["redis"]) + [
        f"rasa {url}: {v['error']}" for url, v in rasa.items() if "error" in v
    ]
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
    app = web.Application(client_max_size=1024 * 1024, middlewares=[errors_middleware])
    app[SETTINGS] = settings
    app[TEMPLATES] = Templates(settings.flows_dir, settings.default_language)
    app[FLOWS] = load_flows(settings.flows_dir)
    app[HOURS] = load_hours(settings.flows_dir)
    app[METRICS] = Metrics()
    app[SECRET] = load_secret(settings.secret_key, settings.data_dir)
    origins: str | list[str] = (
        "*" if settings.cors_origins == ("*",) else list(settings.cors_origins)
    )
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        serializer=SafePacket,  # an unreadable packet is answered, not raised
        cors_allowed_origins=origins,
        max_http_buffer_size=max(64 * 1024, settings.max_message_length * 8),
    )
    sio.attach(app)
    app[SIO] = sio
    app.cleanup_ctx.append(redis_ctx)
    app.cleanup_ctx.append(retention_ctx)  # before anything can open a conversation
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
    app.cleanup_ctx.append(turns_ctx)  # last: every channel is registered by then
    return app
