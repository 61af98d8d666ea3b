"""Session-wide real services: a redis-server and a Rasa server with the trained model."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdesk.app import make_app
from frontdesk.botmodel import BOT_DIR, ensure_model
from frontdesk.cluster import Cluster
from frontdesk.config import ROOT, Settings, load_settings
from frontdesk.supervisor import RasaProcess, rasa_env
from tests.startup import redis_answers, wait_until

pytest_plugins = ["tests.support", "tests.browser", "tests.fake_rasa"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Debian redis-server on a free port (or REDIS_URL from the environment)."""
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `make test`, which installs it")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )

    wait_until(lambda: redis_answers(port), 20, "redis-server", proc)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(autouse=True)
def clean_redis(request: pytest.FixtureRequest) -> None:
    """Each test that uses Redis starts from an empty database (the server is shared)."""
    if "redis_url" in request.fixturenames:
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def rasa_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real Rasa server with the real trained model, started once per test session."""
    if os.environ.get("TEST_RASA_URL"):
        yield os.environ["TEST_RASA_URL"]
        return
    model = ensure_model()
    rasa = RasaProcess(model, free_port())
    log_path = tmp_path_factory.mktemp("rasa") / "rasa.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(rasa.command(), cwd=BOT_DIR, env=rasa_env(), stdout=log, stderr=log)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{rasa.url}/status", timeout=1) as resp:
                return bool(json.load(resp).get("model_file"))
        except OSError:
            return False

    try:
        wait_until(ready, 300, f"Rasa (log: {log_path})", proc)
        yield rasa.url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ALWAYS_OPEN = "timezone: UTC\nweekly:\n" + "".join(f"  {d}: ['00:00-24:00']\n" for d in DAYS)


def flows_copy(tmp_path: Path, hours: str = ALWAYS_OPEN) -> Path:
    """A copy of flows/ whose business hours the test decides (default: always open)."""
    flows = tmp_path / "flows"
    if not flows.exists():
        shutil.copytree(ROOT / "flows", flows)
    (flows / "hours.yml").write_text(hours)
    return flows


def make_settings(
    redis_url: str, rasa_url: str, tmp_path: Path, hours: str = ALWAYS_OPEN, **overrides: str
) -> Settings:
    env = {
        "FLOWS_DIR": str(flows_copy(tmp_path, hours)),
        "REDIS_URL": redis_url,
        "RASA_URL": rasa_url,
        "DATA_DIR": str(tmp_path),
        "RASA_TIMEOUT": "20",
        **overrides,
    }
    return load_settings(env)


GatewayFactory = Callable[..., "TestServer"]


@pytest.fixture
def offline_gateway(
    redis_url: str, tmp_path: Path, aiohttp_server: Callable[..., Any]
) -> Callable[..., Any]:
    """Starts the gateway with real Redis and Rasa down (nothing listens on its port)."""

    async def start(**overrides: str) -> TestServer:
        dead_rasa = f"http://127.0.0.1:{free_port()}"
        settings = make_settings(redis_url, dead_rasa, tmp_path, **overrides)
        server: TestServer = await aiohttp_server(make_app(settings))
        return server

    return start


@pytest.fixture
def settings(redis_url: str, rasa_url: str, tmp_path: Path) -> Settings:
    return make_settings(redis_url, rasa_url, tmp_path)


@pytest.fixture
async def gateway(settings: Settings, aiohttp_server: Callable[..., object]) -> TestServer:
    """The real gateway on a loopback port, against real Redis and real Rasa."""
    app: web.Application = make_app(settings)
    server = await aiohttp_server(app)  # type: ignore[operator]
    assert isinstance(server, TestServer)
    return server


@pytest.fixture(scope="module")
def redis_behind_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A Redis primary, its replica and three sentinels (no gateway, no Rasa, no nginx), for a
    module's tests of Redis failover (tests/test_cluster_sentinel.py, test_cluster_locks.py)."""
    cluster = Cluster(tmp_path_factory.mktemp("sentinel"), gateways=0, rasa_urls=["http://-"])
    with cluster:
        yield cluster
