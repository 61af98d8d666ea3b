"""Correct across processes (issue 21): several `server.py gateway` processes on loopback ports
share one real redis-server (SOCKETIO_REDIS=on) and the real Rasa. What one process decides
for all holds whichever process a customer or an agent reaches: a case queued on one is seen,
live, by an agent on another, and her replies reach the customer; auto-assignment never gives
one case to two agents; queue positions and estimates are the same from every process; the
limits per address and per conversation, the console's login throttle and the adoption of a
dead process's turns are the deployment's, not one process's; a waiting customer leaves the
line only when no process holds a page of theirs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdesk.config import ROOT
from frontdesk.console.auth import hash_password, load_secret, socket_token
from frontdesk.resources import open_redis
from frontdesk.store import RedisStore
from frontdesk.store.agents import AgentStore
from tests.conftest import flows_copy, free_port
from tests.startup import wait_until
from tests.support import AgentClient, WidgetClient

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    """Until `check()` holds (a state another process reaches on its own), at most `timeout`."""

    async def poll() -> None:
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def shared_level(redis_url: str, key: str) -> float:
    """A shared bucket's tokens in Redis (frontdesk.channels.shared_limits); inf: none yet."""
    redis = open_redis(redis_url)
    try:
        value = await redis.hget(key, "t")
    finally:
        await redis.aclose()
    return float(value) if value is not None else float("inf")


class Gateway:
    """One `server.py gateway` process on its own loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "PORT": str(self.port)}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "server.py"), "gateway"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=out,
            )
        wait_until(self.healthy, 60, f"the gateway (log: {self.log})", self.proc)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Deployment:
    """Gateway processes of one deployment: same Redis, same secret, same flows."""

    def __init__(self, redis_url: str, rasa_url: str, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.flows = flows_copy(tmp_path)
        self.redis_url = redis_url
        self.secret = load_secret("", tmp_path)  # made once, before the processes read it
        self.env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "RASA_URL": rasa_url,
            "DATA_DIR": str(tmp_path),
            "FLOWS_DIR": str(self.flows),
            "SOCKETIO_REDIS": "on",
            "RASA_TIMEOUT": "30",
            "LOG_LEVEL": "WARNING",
        }
        self.gateways: list[Gateway] = []
        self.clients: list[Any] = []

    async def start(self, count: int, **env: str) -> list[Gateway]:
        made = [
            Gateway({**self.env, **env}, self.tmp_path / f"gateway{len(self.gateways) + n}.log")
            for n in range(count)
        ]
        self.gateways += made
        await asyncio.gather(*(asyncio.to_thread(g.start) for g in made))
        return made

    async def agent(self, gateway: Gateway, capacity: int = 3) -> AgentClient:
        name = f"agent{uuid.uuid4().hex[:8]}"
        redis = open_redis(self.redis_url)
        fields = {
            "display_name": name,
            "password_hash": hash_password("pw"),
            "capacity": str(capacity),
        }
        await AgentStore(redis).save(name, fields)
        await redis.aclose()
        client = AgentClient(gateway.url, socket_token(self.secret, name))
        self.clients.append(client)
        await client.connect()
        return client

    async def customer(self, gateway: Gateway, session_id: str | None = None) -> WidgetClient:
        client = WidgetClient(gateway.url, session_id)
        self.clients.append(client)
        await client.connect()
        return client

    async def close(self) -> None:
        for client in self.clients:
            with contextlib.suppress(Exception):
                await client.close()
        await asyncio.gather(*(asyncio.to_thread(g.stop) for g in self.gateways))


@pytest.fixture
async def deployment(redis_url: str, rasa_url: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    made = Deployment(redis_url, rasa_url, tmp_path)
    yield made
    await made.close()


async def ask_for_a_person(customer: WidgetClient) -> dict[str, Any]:
    """The customer taps "Talk to a person" (the real bot hands off); her first place in line."""
    await customer.say("/human_handoff", title="Talk to a person")
    status: dict[str, Any] = await customer.until("queue_status", lambda s: s.get("position"))
    return status


@pytest.mark.rasa
async def test_an_agent_on_one_process_sees_a_case_queued_on_another_and_answers_it_live(
    deployment: Deployment,
) -> None:
    a, b = await deployment.start(2)
    agent = await deployment.agent(b)
    customer = await deployment.customer(a)
    await ask_for_a_person(customer)
    queue = await agent.until(
        "queue", lambda q: any(i["conversation_id"] == customer.session_id for i in q["items"])
    )
    item = next(i for i in queue["items"] if i["conversation_id"] == customer.session_id)
    assert (await agent.call("claim", {"case_id": item["case_id"]}))["ok"]
    assert (await customer.next("agent_joined"))["name"] == agent.name

    await customer.say("the parcel never came")
    message = await agent.until("case_message", lambda m: m["entry"]["role"] == "customer")
    assert message["entry"]["text"] == "the parcel never came"
    reply = await agent.call("reply", {"case_id": item["case_id"], "text": "Checking now."})
    assert reply["ok"], reply
    got = await customer.until_message(lambda m: m["sender"]["kind"] == "agent")
    assert got["text"] == "Checking now." and got["seq"] == reply["seq"]


@pytest.mark.rasa
async def test_auto_assignment_never_gives_one_case_to_two_agents_across_processes(
    deployment: Deployment,
) -> None:
    """16 customers ask for a person at once, half on each process; 4 agents (2 on each, 3
    conversations each) are offered them by both processes' auto-assignment at once."""
    handoff = deployment.flows / "handoff.yml"
    handoff.write_text(handoff.read_text().replace("auto_assign: false", "auto_assign: true"))
    a, b = await deployment.start(2)
    agents = [await deployment.agent(g, capacity=3) for g in (a, b, a, b)]
    customers = await asyncio.gather(*(deployment.customer((a, b)[n % 2]) for n in range(16)))
    await asyncio.gather(*(c.say("/human_handoff", title="Talk to a person") for c in customers))

    async def seats_taken() -> bool:
        return sum(len(x.received["case_assigned"]) for x in agents) >= 12

    await eventually(seats_taken, 120)
    holders: dict[str, list[str]] = {}
    for agent in agents:
        cases = [e["case"]["card"]["conversation_id"] for e in agent.received["case_assigned"]]
        assert len(cases) <= 3, f"{agent.name} got more than her capacity: {cases}"
        for conversation_id in cases:
            holders.setdefault(conversation_id, []).append(agent.name)
    assert len(holders) == 12 and all(len(names) == 1 for names in holders.values()), holders
    # Each assigned customer was told of one agent, the one holding the case; the others wait.
    for customer in customers:
        if customer.session_id in holders:
            joined = await customer.next("agent_joined")
            assert joined["name"] == holders[customer.session_id][0]
        else:
            await customer.until("queue_status", lambda s: s.get("position"))
    assert sum(len(c.received["agent_joined"]) for c in customers) == 12


@pytest.mark.rasa
async def test_queue_positions_and_estimates_are_the_same_from_every_process(
    deployment: Deployment,
) -> None:
    a, b = await deployment.start(2)
    await deployment.agent(a, capacity=1)  # someone is there: estimates, not "nobody online"
    waiting = []
    for n in range(4):  # one after the other, alternating processes: positions 1..4
        customer = await deployment.customer((a, b)[n % 2])
        status = await ask_for_a_person(customer)
        assert status["position"] == n + 1
        waiting.append(customer)
    for n, customer in enumerate(waiting):
        # A tab of the customer on each process: each process computes the status itself.
        seen = []
        for gateway in (a, b):
            tab = await deployment.customer(gateway, customer.session_id)
            status = await tab.until("queue_status", lambda s: s.get("position"))
            seen.append((status["position"], status["text"]))
        assert seen[0] == seen[1], seen
        assert seen[0][0] == n + 1


async def test_an_addresss_limits_hold_across_processes(
    deployment: Deployment, fake_rasa: tuple[Any, str]
) -> None:
    """One client address (127.0.0.5) spread over two processes: its connections, new
    conversations and messages count together; another address is not touched."""
    deployment.env["RASA_URL"] = fake_rasa[1]
    a, b = await deployment.start(
        2,
        RATE_LIMIT_PER_SECOND="100",
        RATE_LIMIT_BURST="100",
        MAX_PENDING_TURNS="0",
        ADDRESS_MAX_CONNECTIONS="3",
        ADDRESS_CONVERSATIONS_PER_SECOND="0.01",  # no refill within a test
        ADDRESS_CONVERSATION_BURST="2",
        ADDRESS_MESSAGES_PER_SECOND="0.01",
        ADDRESS_MESSAGE_BURST="4",
    )
    clients: list[FromAddress] = []
    try:
        first, second, third = (FromAddress(g, "127.0.0.5") for g in (a, b, a))
        clients += [first, second, third]
        for client in (first, second, third):
            await client.connect()
        # A fourth connection, on either process, is one too many for the address.
        assert await FromAddress(b, "127.0.0.5").handshake() == 429
        assert await FromAddress(a, "127.0.0.5").handshake() == 429
        assert await FromAddress(b, "127.0.0.6").handshake() == 200

        # Two new conversations for the address, whichever process opens them.
        assert await first.open() is None
        assert await second.open() is None
        refused = await third.open()
        assert refused["error"]["code"] == "rate_limited"

        # Four messages for the address: all on process A...
        assert [(await first.say(f"m{n}"))["ok"] for n in range(4)] == [True] * 4
        assert (await first.say("m4"))["ok"] is False
        # ...and once A has told Redis, a connection on B finds the budget spent.
        key = "fd:limits:msg:addr:127.0.0.5"

        async def told() -> bool:
            return await shared_level(deployment.redis_url, key) < 1

        await eventually(told)
        await first.close()

        async def place_freed() -> bool:  # A says so to Redis at once (PUBLISH_SOON)
            redis = open_redis(deployment.redis_url)
            counts = await redis.hvals("fd:limits:open:127.0.0.5")
            await redis.aclose()
            return sum(int(c) for c in counts) < 3

        await eventually(place_freed)
        moved = FromAddress(b, "127.0.0.5", first.session_id, first.token)
        clients.append(moved)
        await moved.connect()
        assert await moved.open(resume=True) is None
        ack = await moved.say("from the other process")
        assert ack["ok"] is False and ack["error"]["code"] == "rate_limited"
        elsewhere = FromAddress(b, "127.0.0.6")
        clients.append(elsewhere)
        await elsewhere.connect()
        assert await elsewhere.open() is None
        assert (await elsewhere.say("hello"))["ok"]
    finally:
        for client in clients:
            await client.close()


class FromAddress:
    """A Socket.IO client from a chosen loopback address (all of 127/8 is this machine)."""

    def __init__(
        self, gateway: Gateway, address: str, session_id: str = "", token: str = ""
    ) -> None:
        self.url = gateway.url
        self.address = address
        self.session_id = session_id
        self.token = token
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
        )
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self.http)
        self.sio.on("session_confirm", self._confirmed)
        self.sio.on("session_token", self._token)

    async def _confirmed(self, session_id: str) -> None:
        self.session_id = session_id

    async def _token(self, data: dict[str, Any]) -> None:
        self.token = data["token"]

    async def connect(self) -> None:
        await self.sio.connect(self.url, transports=["websocket"])

    async def handshake(self) -> int:
        """A new connection's first request (Engine.IO over polling): its HTTP status."""
        url = f"{self.url}/socket.io/?EIO=4&transport=polling"
        async with self.http.get(url) as resp:
            await resp.read()
            status = resp.status
        await self.http.close()
        return status

    async def open(self, resume: bool = False) -> Any:
        """session_request (a new conversation, or this client's own): None once confirmed."""
        request: dict[str, Any] = {"frontdesk": 1}
        if resume:
            request.update(session_id=self.session_id, resume_token=self.token)
        return await self.sio.call("session_request", request, timeout=10)

    async def say(self, text: str) -> dict[str, Any]:
        message = {"message": text, "session_id": self.session_id}
        ack: dict[str, Any] = await self.sio.call("user_uttered", message, timeout=10)
        return ack

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        await self.http.close()


async def test_a_conversations_rate_limit_holds_across_its_tabs_on_two_processes(
    deployment: Deployment, fake_rasa: tuple[Any, str]
) -> None:
    deployment.env["RASA_URL"] = fake_rasa[1]
    a, b = await deployment.start(
        2, RATE_LIMIT_PER_SECOND="0.01", RATE_LIMIT_BURST="3", MAX_PENDING_TURNS="0"
    )
    tab = await deployment.customer(a)
    assert [(await tab.say(f"m{n}"))["ok"] for n in range(3)] == [True] * 3
    key = f"fd:limits:msg:conv:{tab.session_id}"

    async def told() -> bool:  # A has told Redis
        return await shared_level(deployment.redis_url, key) < 1

    await eventually(told)
    other = await deployment.customer(b, tab.session_id)  # a second tab, on the other process
    ack = await other.say("and one more")
    assert ack["ok"] is False and ack["error"]["code"] == "rate_limited"


async def test_the_login_throttle_counts_failures_on_every_process(
    deployment: Deployment, fake_rasa: tuple[Any, str]
) -> None:
    deployment.env["RASA_URL"] = fake_rasa[1]
    a, b = await deployment.start(2, LOGIN_MAX_FAILURES="3", LOGIN_LOCKOUT="600")
    name = f"agent{uuid.uuid4().hex[:8]}"
    redis = open_redis(deployment.redis_url)
    fields = {"display_name": "Kim", "password_hash": hash_password("right"), "capacity": "1"}
    await AgentStore(redis).save(name, fields)
    await redis.aclose()

    async def attempt(gateway: Gateway, password: str) -> tuple[int, str]:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            url = f"{gateway.url}/console/login"
            async with http.get(url) as resp:
                token = CSRF.search(await resp.text())
            assert token
            form = {"username": name, "password": password, "csrf_token": token.group(1)}
            async with http.post(url, data=form, allow_redirects=False) as resp:
                return resp.status, await resp.text()

    assert [(await attempt(g, "wrong"))[0] for g in (a, b, a)] == [401, 401, 401]
    status, page = await attempt(b, "right")  # locked on B by failures mostly made on A
    assert status == 429 and "Too many failed attempts" in page


def held_bot(release: asyncio.Event, asked: asyncio.Event) -> web.Application:
    """A stand-in for Rasa that holds every turn until released."""

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        asked.set()
        await release.wait()
        return web.json_response(
            {
                "messages": [{"text": f"answer to {body['message']}"}],
                "understood": {"intent": {"name": "greet", "confidence": 0.99}, "entities": []},
            }
        )

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"model_file": "held.tar.gz"})

    app = web.Application()
    app.router.add_post("/webhooks/frontdesk/webhook", webhook)
    app.router.add_get("/status", status)
    return app


async def test_a_live_process_answers_the_turns_of_one_that_was_killed(
    deployment: Deployment, aiohttp_server: Callable[..., Any]
) -> None:
    release, asked = asyncio.Event(), asyncio.Event()
    bot: TestServer = await aiohttp_server(held_bot(release, asked))
    deployment.env["RASA_URL"] = str(bot.make_url("")).rstrip("/")
    a, b = await deployment.start(2)
    customer = await deployment.customer(a)
    ack = await customer.say("where is my order", client_msg_id="the-one")
    assert ack["ok"]
    await asked.wait()  # the turn is in flight on A
    await asyncio.to_thread(a.kill)  # kill -9: A never answers it
    release.set()
    await customer.close()
    again = await deployment.customer(b, customer.session_id)  # the widget reconnects to B
    answer = await again.until_message(lambda m: m.get("text") == "answer to where is my order")
    store = RedisStore(open_redis(deployment.redis_url))
    history = await store.history(customer.session_id, 0, 100)
    await store.redis.aclose()
    assert [e["text"] for e in history if e["role"] == "customer"] == ["where is my order"]
    replies = [e for e in history if e.get("in_reply_to") == ack["seq"]]
    assert [e["seq"] for e in replies] == [answer["seq"]]  # answered once, by B
    assert "answering 1 turn(s) a stopped gateway process left" in b.log.read_text()


@pytest.mark.rasa
async def test_a_customer_leaves_the_line_only_when_no_process_holds_a_page(
    deployment: Deployment,
) -> None:
    """The abandonment rule across processes: closing the tab on one process while another
    process holds a tab keeps the place; closing both takes the customer out of the line."""
    waits = deployment.flows / "waits.yml"
    waits.write_text(
        waits.read_text()
        .replace("abandon_after_seconds: 180", "abandon_after_seconds: 3")
        .replace("min_interval_seconds: 15", "min_interval_seconds: 0")
    )
    a, b = await deployment.start(2)
    await deployment.agent(a, capacity=1)
    holder = await deployment.customer(a)
    await ask_for_a_person(holder)  # takes the agent's one slot (or waits first)
    customer = await deployment.customer(a)
    await ask_for_a_person(customer)
    other_tab = await deployment.customer(b, customer.session_id)
    redis = open_redis(deployment.redis_url)
    try:
        await customer.close()  # process a holds no page of it any more; b does
        # Several sweeps of both processes go by (each sweeps at least every 1 s here).
        await asyncio.sleep(6)  # the rule's own time passing, not synchronisation
        conversation = await RedisStore(redis).get_conversation(customer.session_id)
        assert conversation["state"] == "queued"
        await other_tab.close()

        async def gone() -> bool:
            raw = await RedisStore(redis).get_conversation(customer.session_id)
            return raw.get("state") == "bot"

        await eventually(gone, 30)
    finally:
        await redis.aclose()
