"""Nothing acknowledged is lost when the gateway dies: 100 customers chat with a slow bot, the
gateway process is killed with SIGKILL while turns are in flight, a new one starts on the same
Redis, and every acknowledged message ends up stored once and answered exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdesk.config import ROOT
from frontdesk.resources import open_redis
from frontdesk.store import RedisStore
from tests.conftest import flows_copy, free_port
from tests.startup import wait_until
from tests.support import WidgetClient

CUSTOMERS = 100
MESSAGES = 3


def slow_bot() -> web.Application:
    """A stand-in for Rasa that takes 0.3 to 1.2 s per turn, so turns are in flight."""

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(random.uniform(0.3, 1.2))
        return web.json_response(
            {
                "messages": [{"text": f"answer to {body['message']}"}],
                "understood": {"intent": {"name": "greet", "confidence": 0.99}, "entities": []},
            }
        )

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"model_file": "slow.tar.gz"})

    app = web.Application()
    app.router.add_post("/webhooks/frontdesk/webhook", webhook)
    app.router.add_get("/status", status)
    return app


def start_gateway(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "gateway"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    wait_until(healthy, 30, "the gateway", proc)
    return proc


async def test_kill_9_with_turns_in_flight_loses_and_duplicates_nothing(
    redis_url: str, tmp_path: Path, aiohttp_server: Callable[..., Any]
) -> None:
    bot: TestServer = await aiohttp_server(slow_bot())
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "RASA_URL": str(bot.make_url("")).rstrip("/"),
        "PORT": str(port),
        "DATA_DIR": str(tmp_path),
        "FLOWS_DIR": str(flows_copy(tmp_path)),
        "LOG_LEVEL": "WARNING",
        # 100 customers from one address, writing within a second and all reconnecting at
        # once: far beyond one address's share (tests/test_address_limits.py), so not counted.
        "ADDRESS_MESSAGES_PER_SECOND": "0",
        "ADDRESS_CONNECTIONS_PER_SECOND": "0",
    }
    base = f"http://127.0.0.1:{port}"
    gateway = await asyncio.to_thread(start_gateway, env, port, tmp_path / "first.log")
    acked: dict[tuple[str, str], int] = {}
    killed, third_acked = asyncio.Event(), asyncio.Event()
    restarted = asyncio.Event()

    async def chat(number: int) -> None:
        client = WidgetClient(base)
        try:
            await client.connect()
            for index in range(MESSAGES):
                text = f"customer {number} message {index}"
                msg_id = f"{number}-{index}"
                while True:  # like the widget's outbox: resend the same id until acknowledged
                    try:
                        ack = await client.say(text, client_msg_id=msg_id)
                        if ack.get("ok"):
                            acked[(client.session_id, text)] = ack["seq"]
                            if len(acked) >= CUSTOMERS:
                                third_acked.set()
                            break
                    except Exception:
                        pass
                    await restarted.wait()
                    await client.close()
                    client = WidgetClient(base, client.session_id)
                    await client.connect()
                await asyncio.sleep(random.uniform(0.05, 0.4))
        finally:
            await client.close()

    async def crash() -> None:
        await third_acked.wait()  # a third of the messages acknowledged: turns in flight
        gateway.send_signal(signal.SIGKILL)
        await asyncio.to_thread(gateway.wait)
        killed.set()

    chats = [asyncio.create_task(chat(n)) for n in range(CUSTOMERS)]
    await crash()
    second = await asyncio.to_thread(start_gateway, env, port, tmp_path / "second.log")
    restarted.set()
    try:
        await asyncio.wait_for(asyncio.gather(*chats), 120)
        assert len(acked) == CUSTOMERS * MESSAGES

        store = RedisStore(open_redis(redis_url))
        sessions = {session for session, _ in acked}

        async def answers() -> tuple[int, int, int]:
            lost = unanswered = duplicated = 0
            for session in sessions:
                history = await store.history(session, 0, 1000)
                customer = [e for e in history if e["role"] == "customer"]
                texts = [e["text"] for e in customer]
                for (s, text), _ in acked.items():
                    if s == session and texts.count(text) != 1:
                        lost += 1
                for entry in customer:
                    replies = [e for e in history if e.get("in_reply_to") == entry["seq"]]
                    unanswered += not replies
                    duplicated += len(replies) > 1
            return lost, unanswered, duplicated

        deadline = asyncio.get_running_loop().time() + 60
        while True:  # turns the killed process left are adopted within ~15 s
            lost, unanswered, duplicated = await answers()
            if unanswered == 0 or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
        adopted = sum(
            int(line.split("answering ")[1].split()[0])
            for line in (tmp_path / "second.log").read_text().splitlines()
            if "answering " in line and "turn(s)" in line
        )
        print(
            f"\nacked {len(acked)}; turns the killed process left, answered by the new one: "
            f"{adopted}; lost {lost}, unanswered {unanswered}, duplicated {duplicated}"
        )
        assert (lost, unanswered, duplicated) == (0, 0, 0)
        assert adopted > 0  # the kill did catch turns in flight
        await store.redis.aclose()
    finally:
        for task in chats:
            task.cancel()
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.wait)
