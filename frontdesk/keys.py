"""The application's typed keys, one per resource (set by frontdesk.resources and make_app in
frontdesk.app; the console's, the mail's and the files' own keys live next to their code)."""

from __future__ import annotations

import socketio
from aiohttp import web
from redis.asyncio import Redis

from frontdesk.botclient import BotClient
from frontdesk.channels.messenger import MessengerChannel
from frontdesk.channels.ratelimit import AddressLimiter
from frontdesk.channels.telegram import TelegramChannel
from frontdesk.channels.whatsapp import WhatsAppChannel
from frontdesk.channels.whatsapp_flows import WhatsAppFlows
from frontdesk.channels.widget import WidgetChannel
from frontdesk.config import Settings
from frontdesk.core.flows import Flows
from frontdesk.core.hours import Hours
from frontdesk.core.later import Later
from frontdesk.core.metrics import Metrics
from frontdesk.core.outbox import Outbox
from frontdesk.core.router import Router
from frontdesk.core.sla_watch import SlaWatch
from frontdesk.core.templates import Templates
from frontdesk.store import RedisStore
from frontdesk.store.cases import CaseStore

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
WHATSAPP_CHANNEL = web.AppKey("whatsapp_channel", WhatsAppChannel)
WHATSAPP_FLOWS = web.AppKey("whatsapp_flows", WhatsAppFlows)  # flows/whatsapp.yml
ADDRESSES = web.AppKey("addresses", AddressLimiter)  # widget limits per client address
SLA_WATCH = web.AppKey("sla_watch", SlaWatch)  # the breach check (frontdesk.core.sla_watch)
