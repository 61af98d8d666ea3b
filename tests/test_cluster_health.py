"""/healthz tells a balancer when a gateway process has gone deaf: with SOCKETIO_REDIS=on, a
process whose Socket.IO Redis listener no longer hears (python-socketio #1581: the subscriber
dropped by Redis, the node deaf for a day with nothing noticing) answers 503, and 200 again
once the listener hears (python-socketio's listener reconnects by itself)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp.test_utils import TestServer

from frontdesk.app import make_app
from frontdesk.socketio_redis import LISTENER
from tests.conftest import free_port, make_settings
from tests.startup import redis_answers, wait_until

pytestmark = pytest.mark.rasa


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[int]:
    """A redis-server of this test's own: its ACL is changed, which must not touch others."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: run `make test`, which installs it"
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    wait_until(lambda: redis_answers(port), 20, "redis-server", proc)
    yield port
    proc.terminate()
    proc.wait(10)


class Gateway:
    """A gateway process (SOCKETIO_REDIS=on) on its own Redis, and that Redis's admin."""

    def __init__(self, server: TestServer, admin: redis.Redis, http: aiohttp.ClientSession):
        self.server, self.admin, self.http = server, admin, http

    def acl(self, *rules: str) -> None:
        self.admin.execute_command("ACL", "SETUSER", "default", *rules)

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with self.http.get(self.server.make_url("/healthz")) as resp:
            return resp.status, await resp.json()

    async def health_until(self, status: int, timeout: float) -> dict[str, Any]:
        """Ask /healthz again and again until it answers `status`; its body."""

        async def poll() -> dict[str, Any]:
            while True:
                got, body = await self.health()
                if got == status:
                    return body
                await asyncio.sleep(0.5)

        return await asyncio.wait_for(poll(), timeout)


@pytest.fixture
async def gateway_on_own_redis(
    own_redis: int, rasa_url: str, tmp_path: Path, aiohttp_server: Callable[..., Any]
) -> AsyncIterator[Gateway]:
    settings = make_settings(
        f"redis://127.0.0.1:{own_redis}/0", rasa_url, tmp_path, SOCKETIO_REDIS="on"
    )
    server: TestServer = await aiohttp_server(make_app(settings))
    admin = redis.Redis(port=own_redis)
    async with aiohttp.ClientSession() as http:
        yield Gateway(server, admin, http)
    admin.close()


async def test_healthz_fails_while_the_listener_cannot_subscribe_and_recovers(
    gateway_on_own_redis: Gateway,
) -> None:
    gateway = gateway_on_own_redis
    body = await gateway.health_until(200, timeout=30)
    assert body["socketio_redis"] is True

    # Redis drops the subscriber (as its client-output-buffer-limit does) and will not let it
    # subscribe again: publishing still works, the listener hears nothing.
    gateway.acl("-subscribe", "-psubscribe")
    assert gateway.admin.client_kill_filter(_type="pubsub") >= 1
    body = await gateway.health_until(503, timeout=60)
    assert body["socketio_redis"] is False
    assert body["redis"] is True  # the store itself is fine: only the listener is deaf
    assert any("socketio redis listener" in what for what in body["down"]), body

    # Subscribing works again: python-socketio's listener reconnects, /healthz follows.
    gateway.acl("+@all")
    body = await gateway.health_until(200, timeout=120)
    assert body["socketio_redis"] is True and "down" not in body


async def test_healthz_fails_at_once_when_the_listening_task_is_gone(
    gateway_on_own_redis: Gateway,
) -> None:
    """python-socketio's listening task can end ("pubsub listen() exited unexpectedly") and
    never come back: the process says so at once, so that it is restarted."""
    gateway = gateway_on_own_redis
    await gateway.health_until(200, timeout=30)
    gateway.server.app[LISTENER].thread.cancel()
    status, body = await gateway.health()
    assert status == 503 and body["socketio_redis"] is False
