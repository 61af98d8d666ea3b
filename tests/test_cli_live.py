"""The CLI beside a running product (issue 19, item 1): with no REDIS_URL, `server.py agents` and
`customers` work on the gateway's own embedded Redis while customers chat, and never stop it;
with nothing running they start it, do the job and stop it, leaving the data; two processes
never run two redis-servers on the same files, whichever starts first."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from redis.asyncio import Redis

from frontdesk.config import ROOT
from frontdesk.store.embedded import EmbeddedRedis
from tests.conftest import free_port
from tests.startup import wait_until
from tests.support import WidgetClient

PASSWORD = "correct horse battery"


def redis_servers(data_dir: Path) -> list[psutil.Process]:
    """The redis-server processes working on data_dir's files (a redis-server works in its
    data directory)."""
    found = []
    for proc in psutil.process_iter(["name", "cwd"]):
        if "redis" in (proc.info["name"] or "") and proc.info["cwd"] == str(data_dir.resolve()):
            found.append(proc)
    return found


def lifetimes(data_dir: Path) -> list[str]:
    """From the embedded Redis's log: "up" for each server start, "down" for each stop."""
    events = {"ready to accept connections": "up", "ready to exit": "down"}
    log = (data_dir / "redis.log").read_text()
    return [word for line in log.splitlines() for key, word in events.items() if key in line]


def product_env(data_dir: Path, rasa_url: str, port: int = 0) -> dict[str, str]:
    """The environment `make run` gives the product: no REDIS_URL (the embedded Redis)."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RASA_URL")}
    env.update(DATA_DIR=str(data_dir), RASA_URL=rasa_url, PORT=str(port or free_port()))
    return env


def healthy(url: str) -> bool:
    """/healthz answers 200 and says Redis answers."""
    status, body = health(url)
    return status == 200 and body.get("redis") is True


def health(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)
    except OSError:
        return 0, {}


class Gateway:
    """`server.py gateway` as `make run` starts it, Rasa given by RASA_URL."""

    def __init__(self, data_dir: Path, rasa_url: str) -> None:
        self.env = product_env(data_dir, rasa_url)
        self.url = f"http://127.0.0.1:{self.env['PORT']}"
        self.log_path = data_dir.parent / "gateway.log"
        self.log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "server.py", "gateway"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: health(self.url)[0] == 200, 120, "the gateway", self.proc)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        self.log.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "var"
    path.mkdir()
    yield path
    for proc in redis_servers(path):  # only if a test failed half-way
        proc.kill()


async def cli(env: dict[str, str], *args: str, stdin: str = "") -> tuple[int, str]:
    """`server.py ARGS` as its own process (the event loop keeps serving the customer)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "server.py",
        *args,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
    code = proc.returncode or 0
    return code, out.decode() if code == 0 else out.decode() + err.decode()


async def ask(customer: WidgetClient, text: str) -> str:
    ack = await customer.say(text)
    assert ack.get("ok"), ack
    answer = " ".join(m.get("text", "") for m in await customer.answer())
    assert answer.strip(), f"no answer to {text!r}"
    return answer


@pytest.mark.rasa
async def test_the_cli_works_beside_a_chatting_customer_and_leaves_the_redis_running(
    rasa_url: str, data_dir: Path
) -> None:
    gateway = Gateway(data_dir, rasa_url)
    customer = WidgetClient(gateway.url)
    try:
        await customer.connect()
        assert "PayPal" in await ask(customer, "How can I pay for my order?")
        (server,) = redis_servers(data_dir)

        # Each command runs while the customer's next message is answered.
        added, _ = await asyncio.gather(
            cli(gateway.env, "agents", "add", "maria", "--password-stdin", stdin=PASSWORD + "\n"),
            ask(customer, "Where is my order?"),
        )
        assert added == (0, "agent 'maria' saved (maria, agent)\n")
        assert healthy(gateway.url), health(gateway.url)

        listed, _ = await asyncio.gather(
            cli(gateway.env, "agents", "list"), ask(customer, "How do I return shoes?")
        )
        assert listed[0] == 0 and listed[1].startswith("maria\tmaria\tagent"), listed
        assert healthy(gateway.url), health(gateway.url)

        shown, _ = await asyncio.gather(
            cli(gateway.env, "customers", "show", customer.session_id),
            ask(customer, "Can I get an invoice?"),
        )
        assert shown[0] == 0 and f"conversation {customer.session_id} (widget" in shown[1], shown
        assert healthy(gateway.url), health(gateway.url)

        trained, _ = await asyncio.gather(
            cli(gateway.env, "train"), ask(customer, "How can I pay for my order?")
        )
        assert trained[0] == 0 and "Rasa model" in trained[1], trained
        assert healthy(gateway.url), health(gateway.url)

        # Still the one server the gateway started: nobody stopped it, nobody started another.
        assert redis_servers(data_dir) == [server]
    finally:
        await customer.close()
        gateway.stop()
    assert redis_servers(data_dir) == []  # the gateway was its last user: it stopped it
    assert lifetimes(data_dir) == ["up", "down"]  # one server, stopped once, by the gateway

    # Nothing runs now: the CLI starts the Redis, finds the data, and stops it again.
    code, out = await cli(gateway.env, "agents", "list")
    assert (code, out.split("\t")[0]) == (0, "maria")
    code, out = await cli(gateway.env, "customers", "show", customer.session_id)
    assert code == 0 and f"conversation {customer.session_id}" in out, out
    assert redis_servers(data_dir) == []


@pytest.mark.rasa
async def test_a_gateway_started_after_the_cli_keeps_its_redis_when_the_cli_leaves(
    rasa_url: str, data_dir: Path
) -> None:
    first = EmbeddedRedis(data_dir)  # a CLI command that started the Redis (nothing ran)
    await first.start()
    (server,) = redis_servers(data_dir)
    gateway = Gateway(data_dir, rasa_url)  # `make run` while it works: attaches to the same one
    customer = WidgetClient(gateway.url)
    try:
        await customer.connect()
        await first.stop()  # the CLI is done
        assert redis_servers(data_dir) == [server]
        assert healthy(gateway.url), health(gateway.url)

        trained, _ = await asyncio.gather(
            cli(gateway.env, "train"), ask(customer, "How can I pay for my order?")
        )
        assert trained[0] == 0 and "Rasa model" in trained[1], trained
        assert healthy(gateway.url), health(gateway.url)
    finally:
        await customer.close()
        # Killed outright: its lock goes with it, the Redis it used stays (with the data).
        gateway.stop(signal.SIGKILL)
    assert redis_servers(data_dir) == [server]
    code, out = await cli(gateway.env, "customers", "show", customer.session_id)
    assert code == 0 and f"conversation {customer.session_id}" in out, out
    assert redis_servers(data_dir) == []  # the next command adopted the server and stopped it


async def test_processes_starting_together_share_one_server(data_dir: Path) -> None:
    users = [EmbeddedRedis(data_dir) for _ in range(3)]
    urls = await asyncio.gather(*(user.start() for user in users))
    assert len(set(urls)) == 1 and sum(user.started for user in users) == 1
    (server,) = redis_servers(data_dir)
    client = Redis.from_url(urls[0])
    await client.set("kept", "yes")
    await client.aclose()
    for user in users[:2]:
        await user.stop()
        assert redis_servers(data_dir) == [server]
    await users[2].stop()
    assert redis_servers(data_dir) == []

    # Two commands at once with nothing running: both done, on one server, none left behind.
    env = product_env(data_dir, "http://127.0.0.1:9")
    results = await asyncio.gather(
        *(
            cli(env, "agents", "add", name, "--password-stdin", stdin=PASSWORD + "\n")
            for name in ("ann", "bob")
        )
    )
    assert [code for code, _ in results] == [0, 0], results
    _, out = await cli(env, "agents", "list")
    assert sorted(line.split("\t")[0] for line in out.splitlines()) == ["ann", "bob"]
    assert redis_servers(data_dir) == []
    events = lifetimes(data_dir)  # the two commands may or may not have overlapped, but
    assert events == ["up", "down"] * (len(events) // 2)  # never were two servers up at once
    again = EmbeddedRedis(data_dir)
    client = Redis.from_url(await again.start())
    assert await client.get("kept") == b"yes"
    await client.aclose()
    await again.stop()


async def test_a_killed_server_is_replaced_without_losing_data(data_dir: Path) -> None:
    first = EmbeddedRedis(data_dir)
    client = Redis.from_url(await first.start())
    await client.set("kept", "yes")
    await client.aclose()
    (server,) = redis_servers(data_dir)
    server.kill()
    server.wait(10)
    second = EmbeddedRedis(data_dir)  # the settings file names a dead server
    client = Redis.from_url(await second.start())
    assert await client.get("kept") == b"yes"
    await client.aclose()
    (replacement,) = redis_servers(data_dir)
    assert second.started and replacement.pid != server.pid
    await second.stop()  # `first` still counts as a user
    assert redis_servers(data_dir) == [replacement]
    await first.stop()  # the last user stops the server running now, not the one it joined
    assert redis_servers(data_dir) == []
