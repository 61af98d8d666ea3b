"""Start-up and shutdown: one cleanup_ctx per resource (Redis and the stores, retention
sweeps, the Rasa client, the core and the widget, Telegram, Messenger, WhatsApp,
turns left by a stopped process), each reached through its key (frontdesk.keys)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from frontdesk.botclient import BotClient
from frontdesk.channels.http import RetryPolicy
from frontdesk.channels.messenger import CHANNEL as MESSENGER
from frontdesk.channels.messenger import MessengerChannel
from frontdesk.channels.messenger_api import MessengerApi
from frontdesk.channels.safeguards import Safeguards
from frontdesk.channels.shared_limits import SharedLimits
from frontdesk.channels.telegram import CHANNEL as TELEGRAM
from frontdesk.channels.telegram import TelegramChannel
from frontdesk.channels.telegram_api import TelegramApi
from frontdesk.channels.telegram_keyboard import CallbackData
from frontdesk.channels.whatsapp import CHANNEL as WHATSAPP
from frontdesk.channels.whatsapp import WhatsAppChannel
from frontdesk.channels.whatsapp_api import WhatsAppApi
from frontdesk.channels.whatsapp_window import CustomerWindows
from frontdesk.channels.widget import CHANNEL as WIDGET
from frontdesk.channels.widget import WidgetChannel
from frontdesk.channels.widget_files import WidgetFiles
from frontdesk.config import Settings
from frontdesk.console.keys import DESK, REPORTS, SECRET, THROTTLE
from frontdesk.console.namespace import AgentNamespace
from frontdesk.console.search_views import SEARCH
from frontdesk.console.throttle import LoginThrottle, ThrottlePolicy
from frontdesk.core.build import build_core
from frontdesk.core.greeting import load_greeting
from frontdesk.core.periodic import repeat
from frontdesk.core.prechat import Prechat, load_prechat
from frontdesk.core.router import Router
from frontdesk.core.sla import load_sla
from frontdesk.core.wait_config import load_wait_config
from frontdesk.erasure import bot_memory_eraser, customer_erasers, file_store, search_eraser
from frontdesk.errors import StoreUnavailable
from frontdesk.files.storage import FileLinks
from frontdesk.files.web import FILE_LINKS, FILES
from frontdesk.keys import (
    ADDRESSES,
    BOT,
    CASES,
    FLOWS,
    HOURS,
    LATER,
    MESSENGER_CHANNEL,
    METRICS,
    OUTBOX,
    REDIS,
    REDIS_URL,
    ROUTER,
    SETTINGS,
    SIO,
    SLA_WATCH,
    STORE,
    TELEGRAM_CHANNEL,
    TEMPLATES,
    WHATSAPP_CHANNEL,
    WHATSAPP_FLOWS,
    WIDGET_CHANNEL,
)
from frontdesk.knowledge.web import knowledge_running
from frontdesk.mail.web import INBOX, MAIL_STORE
from frontdesk.reports import Reports
from frontdesk.search import Search
from frontdesk.store import RedisStore
from frontdesk.store.agents import PROCESS_TTL, AgentStore
from frontdesk.store.cases import CaseStore
from frontdesk.store.embedded import EmbeddedRedis
from frontdesk.store.mail import MailStore
from frontdesk.store.retention import Retention
from frontdesk.store.sentinel import open_client
from frontdesk.store.turns import RedisTurns

log = logging.getLogger(__name__)

REDIS_CONNECTIONS = 100
REDIS_POOL_WAIT = 5.0  # seconds a command may wait for a free connection
ADOPT_EVERY = 3.0  # seconds between looks for turns a stopped process left
SHUTDOWN_GRACE = 8.0  # seconds for turns in flight at shutdown


def open_redis(url: str) -> Redis:
    """A Redis client for a redis://, rediss://, unix:// or redis+sentinel:// URL (the embedded
    Redis is a unix socket; TCP-only options such as keepalive are passed only for TCP).
    Under load a command waits (bounded) for a free connection instead of failing at once;
    behind Sentinel the client follows the primary (frontdesk.store.sentinel)."""
    options: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 5}
    if not url.startswith("unix:"):
        options["socket_keepalive"] = True
    return open_client(url, REDIS_CONNECTIONS, REDIS_POOL_WAIT, **options)


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    embedded = EmbeddedRedis(settings.data_dir) if settings.embedded_redis else None
    url = await embedded.start() if embedded else settings.redis_url
    if embedded:
        how = "started" if embedded.started else "shared with another frontdesk process"
        log.info("embedded Redis persisted to %s (%s)", embedded.path, how)
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
    await app[REPORTS].close()  # events that waited for Redis: a last chance to be counted
    await client.aclose()
    if embedded:
        await embedded.stop()


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """Empty conversations expire after EMPTY_CONVERSATION_TTL; closed ones older than
    RETENTION_DAYS are swept hourly (frontdesk.store.retention)."""
    settings = app[SETTINGS]
    app[STORE].expire_empty_after(settings.empty_conversation_ttl)
    # started by router_ctx; its indexer is a process of its own (frontdesk.search.worker)
    app[SEARCH] = Search(app[REDIS], settings.data_dir, app[HOURS].zone, app[REDIS_URL])
    erasers = [
        *customer_erasers(app[REPORTS], app[MAIL_STORE], app[FILES]),
        bot_memory_eraser(settings.rasa_urls),
        search_eraser(app[SEARCH]),
    ]
    retention = Retention(app[STORE], app[CASES], settings.retention_days, erasers)
    sweeps = asyncio.create_task(retention.run())
    yield
    sweeps.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeps


async def address_limits_ctx(app: web.Application) -> AsyncIterator[None]:
    """The widget's limits per address and per conversation hold across every gateway process
    on this Redis (frontdesk.channels.shared_limits)."""
    addresses = app[ADDRESSES]
    if app[SETTINGS].rate_limit_per_second <= 0:  # every widget limit is off
        yield
        return
    shared = SharedLimits(app[REDIS])
    addresses.attach(shared)
    task = asyncio.create_task(shared.run(addresses.open_counts))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await shared.leave()


async def bot_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    connector = aiohttp.TCPConnector(limit=200, limit_per_host=100)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        knowledge_running(app, settings) as texts,  # /console/knowledge's published texts
    ):
        app[BOT] = BotClient(session, settings.rasa_urls, settings.rasa_timeout, texts)
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
        sla=load_sla(settings.flows_dir),
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
    app[SEARCH].start(core.bus)  # the search index follows the events (frontdesk.search)
    widget = WidgetChannel(
        router,
        core.conversations,
        app[STORE],
        app[TEMPLATES],
        waits,
        settings.max_message_length,
        settings.history_limit,
        core.ratings,
        Safeguards.from_settings(app[SECRET], settings, app[ADDRESSES]),
        extras=WidgetFiles(files, links, prechat, settings.cors_origins),
        greeting=load_greeting(settings.flows_dir),
    )
    core.outbox.register(WIDGET, widget)
    app[SIO].register_namespace(widget)
    app[ROUTER] = router
    app[WIDGET_CHANNEL] = widget
    app[OUTBOX] = core.outbox
    app[LATER] = core.later
    heartbeat = asyncio.create_task(_heartbeat(agent_store))
    # Waiting customers whose pages are gone leave the line (core/abandon.py); this process
    # says, at every sweep, which conversations have a page here.
    router.watch_pages(lambda: list(widget.pages))
    abandonment = asyncio.create_task(core.abandonment.run())
    app[SLA_WATCH] = core.sla_watch
    sla_breaches = asyncio.create_task(core.sla_watch.run())  # alerts once per case (sla_watch)
    yield
    heartbeat.cancel()
    abandonment.cancel()
    sla_breaches.cancel()
    try:  # finish turns in flight, but never hold shutdown hostage to a backlog
        await asyncio.wait_for(router.idle(), SHUTDOWN_GRACE)
    except TimeoutError:
        log.warning(
            "shutdown: turns still in flight after %.0f s; handing them back", SHUTDOWN_GRACE
        )
        await _quietly(router.turns.hand_back())
    try:  # the reports' counts of the last events, written before Redis is closed
        await asyncio.wait_for(core.bus.settled(), SHUTDOWN_GRACE)
    except TimeoutError:
        log.warning("shutdown: %d events not counted in the reports", len(core.bus))
    await app[SEARCH].stop()
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
    async def once() -> None:
        await router.turns.beat()
        adopted = await router.adopt_orphans()
        if adopted:
            log.warning("answering %d turn(s) a stopped gateway process left", adopted)

    await repeat("adopting turns", once, ADOPT_EVERY)


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


async def whatsapp_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with WhatsAppApi.open_session(settings.whatsapp_token) as session:
        api = WhatsAppApi(
            session,
            settings.whatsapp_api_url,
            settings.whatsapp_token,
            settings.whatsapp_phone_number_id,
            _retry_policy(settings),
        )
        channel = WhatsAppChannel(
            api,
            app[ROUTER],
            app[OUTBOX],
            app[STORE],
            app[TEMPLATES],
            CallbackData(app[REDIS]),
            CustomerWindows(app[REDIS]),
            app[WHATSAPP_FLOWS],
            settings.whatsapp_app_secret,
            settings.whatsapp_verify_token,
            settings.max_message_length,
        )
        channel.files, channel.links = app[FILES], app[FILE_LINKS]
        app[OUTBOX].register(WHATSAPP, channel)
        app[WHATSAPP_CHANNEL] = channel
        yield
        await channel.close()
        await app[ROUTER].idle()
