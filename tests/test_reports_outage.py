"""The reports count every event once Redis is back, and once.

Customers chat with the real bot through real Socket.IO clients. While answers are on their
way (the bot's turns held for a moment at a gate in front of the real Rasa, so the test knows
they are), the test's own redis-server is killed with SIGKILL; the answers reach the customers
during the outage (the gateway delivers them unstored), customers who write meanwhile are told
the message could not be kept and send it again once Redis is back. redis-server is started
again on the same port and files (append-only file, fsync always: what it acknowledged
survives). The reports must then say what the transcripts show — every answer, every
conversation — and the log must say once that events waited and how many, not a traceback per
event.

Once: an event whose connection dropped after Redis had done some of its writes (the reply
lost on the way back) is handled again and still counted once, wherever the drop fell.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from frontdesk.app import make_app
from frontdesk.console.keys import REPORTS
from frontdesk.core.events import (
    BotAnswered,
    CaseQueued,
    ConversationOpened,
    Event,
    EventBus,
)
from frontdesk.keys import LATER
from frontdesk.reports import Filters, Reports
from frontdesk.resources import open_redis
from frontdesk.store import RedisStore
from frontdesk.store.cases import CaseStore
from tests.conftest import free_port, make_settings
from tests.startup import redis_answers, wait_until
from tests.support import WidgetClient

CUSTOMERS = 12
BEFORE, AFTER = 2, 2  # questions each customer asks before and after the one in the outage
QUESTIONS = (  # each answered by the real model, none passed on to a person
    "How do I get a copy of my invoice?",
    "How long does shipping take?",
    "How do I reset my password?",
    "What payment methods do you accept?",
    "Can I return these shoes?",
)
WEBHOOK = "/webhooks/frontdesk/webhook"


class RedisServer:
    """A redis-server of the test's own (the session's is shared, this one is killed)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        where = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        kept = ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
        self.proc = subprocess.Popen([binary, *where, *kept], stdout=subprocess.DEVNULL)
        wait_until(lambda: redis_answers(self.port), 20, "redis-server", self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Gate:
    """A pass-through to the real Rasa that, while closed, holds the bot's turns (and says how
    many it holds), so the test knows answers are on their way when it kills Redis."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.opened = asyncio.Event()
        self.opened.set()
        self.held: asyncio.Queue[str] = asyncio.Queue()
        self.http: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.forward)
        return app

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.path == WEBHOOK and not self.opened.is_set():
            await self.held.put(request.path)
            await self.opened.wait()
        if self.http is None:
            self.http = aiohttp.ClientSession()
        url = f"{self.upstream}{request.path_qs}"
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        async with self.http.request(request.method, url, data=body, headers=headers) as resp:
            return web.Response(
                status=resp.status,
                body=await resp.read(),
                content_type=resp.content_type,
            )

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.workdir.mkdir()
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


async def ask(
    client: WidgetClient, text: str, back: asyncio.Event, refused: asyncio.Queue[str]
) -> None:
    """Send a question until it is kept (like the widget's outbox: the same id again, once
    Redis is back), then wait for the end of its turn."""
    msg_id = uuid.uuid4().hex
    while True:
        try:
            ack = await client.say(text, client_msg_id=msg_id)
        except (TimeoutError, socketio.exceptions.TimeoutError):
            ack = {"ok": False, "error": {"code": "store_unavailable"}}
        if ack.get("ok"):
            break
        assert ack["error"]["code"] == "store_unavailable", ack
        refused.put_nowait(client.session_id)
        await back.wait()
    seq = ack["seq"]
    await client.until("bot_typing", lambda s: s["typing"] is False and s["in_reply_to"] == seq)


def answers_in(history: list[dict[str, Any]]) -> Counter[str]:
    return Counter(str(e["answer_id"]) for e in history if e.get("answer_id"))


async def test_reports_count_every_event_once_redis_is_back(
    redis_server: RedisServer,
    rasa_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    gate = Gate(rasa_url)
    bot: TestServer = await aiohttp_server(gate.app())
    settings = make_settings(redis_server.url, str(bot.make_url("")).rstrip("/"), tmp_path)
    server: TestServer = await aiohttp_server(make_app(settings))
    base = str(server.make_url("/")).rstrip("/")
    clients = [WidgetClient(base) for _ in range(CUSTOMERS)]
    back = asyncio.Event()
    refused: asyncio.Queue[str] = asyncio.Queue()
    try:
        await asyncio.gather(*(c.connect() for c in clients))

        async def chat(number: int, first: int, count: int = 1) -> None:
            for index in range(first, first + count):
                question = QUESTIONS[(number + index) % len(QUESTIONS)]
                await ask(clients[number], question, back, refused)

        # Under load: every customer asks, each as soon as the last answer came.
        await asyncio.gather(*(chat(n, 0, BEFORE) for n in range(CUSTOMERS)))

        # Each asks once more; the bot's answers wait at the gate until Redis is gone.
        gate.opened.clear()
        during = [asyncio.create_task(chat(n, BEFORE)) for n in range(CUSTOMERS)]
        for _ in range(CUSTOMERS):
            await asyncio.wait_for(gate.held.get(), 60)
        await asyncio.to_thread(redis_server.kill)
        gate.opened.set()

        async def again(number: int) -> None:
            await during[number]
            await chat(number, BEFORE + 1, AFTER)

        # Answered during the outage; a third of them write again at once and are refused.
        writers = [asyncio.create_task(again(n)) for n in range(0, CUSTOMERS, 3)]
        await asyncio.wait_for(asyncio.gather(*during), 120)
        for _ in writers:
            await asyncio.wait_for(refused.get(), 60)
        await asyncio.to_thread(redis_server.start)  # same port, same files
        back.set()
        others = [asyncio.create_task(again(n)) for n in range(CUSTOMERS) if n % 3]
        await asyncio.wait_for(asyncio.gather(*writers, *others), 120)

        # Everything that waited for Redis is written: the replies, and the reports' counts.
        await asyncio.wait_for(server.app[LATER].idle(), 120)
        reports = server.app[REPORTS]
        await asyncio.wait_for(reports.caught_up(), 120)

        store = RedisStore(open_redis(redis_server.url))
        histories = [await store.history(c.session_id, 0, 1000) for c in clients]
        await store.redis.aclose()
        served = Counter[str]()
        for history in histories:
            served += answers_in(history)
        answered = sum(1 for history in histories if answers_in(history))
        # What happened: every question answered (stored, those of the outage too).
        assert sum(served.values()) == CUSTOMERS * (BEFORE + 1 + AFTER)

        figures = await reports.figures(reports.period("today"), Filters(), team=True)
        conversations = figures.table("conversations")
        answers = figures.table("answers")
        assert conversations is not None and answers is not None
        total = dict(zip(conversations.columns, conversations.rows[-1], strict=True))
        assert {
            "opened": total["New conversations opened"],
            "conversations": total["Conversations"],
            "answered": total["Answered by the bot"],
            "contained": total["Contained"],
            "served": {str(row[0]): row[1] for row in answers.rows},
        } == {
            "opened": CUSTOMERS,
            "conversations": answered,
            "answered": answered,
            "contained": answered,
            "served": dict(served),
        }

        # The outage in the log: said once, with how many events waited; no traceback.
        tracebacks = [
            r
            for r in caplog.records
            if r.exc_info and ("Aggregator" in r.getMessage() or r.name.startswith("frontdesk.rep"))
        ]
        assert tracebacks == []
        outage = [r.getMessage() for r in caplog.records if "report events" in r.getMessage()]
        assert len(outage) == 2, outage
        assert outage[0].startswith("the store is unavailable")
        caught_up = re.fullmatch(r"the store is back: (\d+) report events caught up", outage[1])
        assert caught_up is not None, outage[1]
        assert int(caught_up.group(1)) >= CUSTOMERS  # at least the answers of the outage
    finally:
        gate.opened.set()
        back.set()
        for client in clients:
            await client.close()
        await gate.close()


class Cutter:
    """A TCP pass-through to Redis that, when told, lets the n-th request through, waits for
    Redis to answer it, and drops the connection instead of passing the answer on: the write
    was done, the client only sees the connection fail."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.requests = 0
        self.cut_at = 0  # 0: never
        self.cuts = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            while chunk := await reader.read(65536):
                self.requests += 1
                upstream.write(chunk)
                answer = await upstream_reader.read(65536)
                if self.requests == self.cut_at:
                    self.cuts += 1
                    break  # done by Redis, never answered
                writer.write(answer)
                await writer.drain()
        finally:
            upstream.close()
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_an_event_cut_off_mid_way_is_counted_once(redis_url: str, tmp_path: Path) -> None:
    direct = Redis.from_url(redis_url)
    cutter = Cutter(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    through = Redis.from_url(await cutter.start())
    cases = CaseStore(direct)
    reports = Reports(through, CaseStore(through), RedisStore(through), ZoneInfo("UTC"), tmp_path)
    bus = EventBus()
    reports.subscribe(bus)

    def day(conversation: str) -> list[Event]:
        """Opened; two answers; a handoff (so no longer contained)."""
        common = (conversation, "widget", "en")
        return [
            ConversationOpened(*common),
            BotAnswered(*common, "billing/invoice_copy", 0.9, 1),
            BotAnswered(*common, "shipping/delivery_time", 0.9, 3),
            CaseQueued(f"case-{conversation}", conversation, "customer_asked"),
        ]

    async def play(conversation: str) -> None:
        fields = {"conversation_id": conversation, "channel": "widget", "language": "en"}
        fields |= {"area": "billing", "reason": "customer_asked", "requested_at": "1"}
        await cases.create(f"case-{conversation}", fields, conversation)
        for event in day(conversation):
            await bus.publish(event)
        await reports.caught_up()

    try:
        await play("first")  # the scripts loaded, the connections open
        before = cutter.requests
        await play("whole")
        requests = cutter.requests - before  # round trips of a day, each may be cut
        assert requests >= len(day("whole"))
        for at in range(1, requests + 1):
            cutter.cut_at = cutter.requests + at
            await play(f"cut-{at}")
        # A day's round trips can differ by one from play to play (the bus batches events in
        # the background), so a cut aimed at the last one may find the day already done.
        assert requests - 1 <= cutter.cuts <= requests

        figures = await reports.figures(reports.period("today"), Filters(), team=True)
        table = figures.table("conversations")
        assert table is not None
        total = dict(zip(table.columns, table.rows[-1], strict=True))
        played = requests + 2
        assert total == {
            "Day": "Total",
            "New conversations opened": played,
            "Conversations": played,
            "Answered by the bot": played,
            "Contained": 0,
            "Handed off": played,
            "Containment %": 0.0,
            "Handoff rate %": 100.0,
        }
        answers = figures.table("answers")
        assert answers is not None
        assert {str(r[0]): r[1] for r in answers.rows} == {
            "billing/invoice_copy": played,
            "shipping/delivery_time": played,
        }
    finally:
        await reports.close()
        await through.aclose()
        await direct.aclose()
        await cutter.close()
