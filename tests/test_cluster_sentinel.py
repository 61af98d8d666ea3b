"""Redis behind Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER): the gateway's store, its
Socket.IO Redis manager and the CLI find the primary through the sentinels, and after a real
failover (the primary killed with SIGKILL, a sentinel promotes the replica) carry on with the
new primary without a restart. The Redis part of the cluster is frontdesk.cluster's."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from frontdesk.app import make_app
from frontdesk.cluster import MASTER, Cluster
from frontdesk.config import ROOT, load_settings
from frontdesk.errors import ConfigError
from tests.conftest import make_settings
from tests.support import WidgetClient

pytestmark = pytest.mark.rasa


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"REDIS_SENTINELS": "127.0.0.1:26379"}, "REDIS_SENTINELS needs REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINEL_MASTER": "frontdesk"}, "REDIS_SENTINELS is not"),
        (
            {"REDIS_SENTINELS": "127.0.0.1", "REDIS_SENTINEL_MASTER": "frontdesk"},
            "host:port pairs",
        ),
        (
            {"REDIS_SENTINELS": "a:1,b:99999", "REDIS_SENTINEL_MASTER": "frontdesk"},
            "host:port pairs",
        ),
        (
            {
                "REDIS_SENTINELS": "a:1",
                "REDIS_SENTINEL_MASTER": "frontdesk",
                "REDIS_URL": "redis://a:6379",
            },
            "either REDIS_URL or REDIS_SENTINELS",
        ),
        ({"REDIS_SENTINELS": "a:1", "REDIS_SENTINEL_MASTER": "my master"}, "a name like"),
    ],
)
def test_sentinel_settings_are_checked_at_start_up(env: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        load_settings(env)


def test_sentinel_settings_name_redis_by_one_url() -> None:
    settings = load_settings(
        {"REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379", "REDIS_SENTINEL_MASTER": "fd"}
    )
    assert settings.redis_url == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/0/fd"
    assert not settings.embedded_redis


@pytest.fixture
async def gateway(
    redis_behind_sentinel: Cluster,
    rasa_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> AsyncIterator[TestServer]:
    env = redis_behind_sentinel.redis_env()
    settings = make_settings("", rasa_url, tmp_path, SOCKETIO_REDIS="on", **env)
    server: TestServer = await aiohttp_server(make_app(settings))
    yield server


def cli(cluster: Cluster, data_dir: Path, *args: str, stdin: str = "") -> str:
    env = {**os.environ, "REDIS_URL": "", "DATA_DIR": str(data_dir), **cluster.redis_env()}
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def resend_until_stored(customer: WidgetClient, text: str) -> dict[str, Any]:
    """Send as the widget's outbox does: a message refused with store_unavailable (a command
    that met the failover) is sent again, with the same client_msg_id, after a back-off."""
    msg_id = uuid.uuid4().hex
    for attempt in range(10):
        ack = await customer.say(text, client_msg_id=msg_id)
        if ack["ok"] or ack["error"]["code"] != "store_unavailable":
            return ack
        await asyncio.sleep(0.5 * (attempt + 1))  # the widget's back-off, not synchronisation
    return ack


async def healthy(server: TestServer) -> dict[str, Any]:
    """/healthz asked until it answers 200 (the test's own timeout bounds it)."""
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(server.make_url("/healthz")) as resp:
                if resp.status == 200:
                    body: dict[str, Any] = await resp.json()
                    return body
            await asyncio.sleep(0.5)


async def test_the_gateway_and_the_cli_follow_a_failover_without_a_restart(
    redis_behind_sentinel: Cluster, gateway: TestServer, tmp_path: Path
) -> None:
    cluster = redis_behind_sentinel
    base = str(gateway.make_url("/")).rstrip("/")
    customer = WidgetClient(base)
    try:
        await customer.connect()
        ack = await customer.say("where is my order?")
        assert ack["ok"], ack
        assert await customer.answer()
        saved = cli(
            cluster, tmp_path, "agents", "add", "ana", "--password-stdin", stdin="pw-1234567\n"
        )
        assert "saved" in saved

        # kill -9 the primary; the sentinels promote the replica.
        old = cluster.primary()
        cluster.kill(old)
        seconds = await asyncio.to_thread(cluster.wait_failover, old)
        print(f"failover: {old} -> {cluster.primary()} in {seconds:.1f} s")

        # Same process, same customer: the next message is stored on the new primary, the bot
        # answers, and what was said before the failover is still there.
        ack = await resend_until_stored(customer, "how do I return an item?")
        assert ack["ok"], ack
        assert await customer.answer()
        tab = WidgetClient(base, customer.session_id)
        try:
            history = await tab.connect()
            texts = [m.get("text") for m in history["messages"]]
            assert "where is my order?" in texts and "how do I return an item?" in texts
        finally:
            await tab.close()

        # The Socket.IO listener follows too, and the CLI finds the new primary.
        body = await asyncio.wait_for(healthy(gateway), 60)
        assert body["redis"] is True and body["socketio_redis"] is True
        assert "ana" in cli(cluster, tmp_path, "agents", "list")
    finally:
        await customer.close()
        cluster.start_part(old)  # back as a replica of the new primary (Sentinel demotes it)


def test_the_sentinels_monitor_the_name_the_guide_uses(redis_behind_sentinel: Cluster) -> None:
    assert redis_behind_sentinel.redis_env()["REDIS_SENTINEL_MASTER"] == MASTER == "frontdesk"
