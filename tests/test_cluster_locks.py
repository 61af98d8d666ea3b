"""Rasa's lock store behind Sentinel (bot/stores/locks.py, bot/endpoints.sentinel.yml): a turn
queued behind a conversation's ticket held by a Rasa that is then killed with SIGKILL is served
once the dead ticket expires (TICKET_LOCK_LIFETIME), never left waiting for good, also after a
Redis failover; a live holder keeps the conversation as long as it holds it.

Each "Rasa" here is a process of the bot's own Python that loads the lock store from the real
endpoints file, as `rasa run` does, and takes a conversation's lock as Rasa's message handling
does (`async with lock_store.lock(conversation_id)`). Issue 21's chaos test lost a turn this
way (2 runs in 11): with Rasa's own ticket lock the waiting ticket, issued a moment after the
killed holder's, expired with it while the waiter slept, and the empty queue then kept it
"behind 1 other item" until the gateway gave up."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from frontdesk.botmodel import BOT_DIR, rasa_executable
from frontdesk.cluster import Cluster
from frontdesk.cluster.ready import redis_client
from frontdesk.supervisor import LOCK_LIFETIME

pytestmark = pytest.mark.rasa

BOUND = 60.0  # seconds: a bound, not a measurement (stock Rasa's waiter never gets there)
LOCKS_DB = 3  # bot/endpoints.sentinel.yml
KEY_PREFIX = "frontdesk:lock:"

# One Rasa's use of the lock store: "ready" once loaded; on "go" it takes the conversation's
# lock and prints "acquired <time>", then holds it until stdin closes (or it is killed).
TAKER = """
import asyncio, sys, time
from rasa.core.lock_store import LockStore
from rasa.core.utils import AvailableEndpoints

async def main(conversation_id):
    store = LockStore.create(AvailableEndpoints.read_endpoints(sys.argv[1]).lock_store)
    print("ready", type(store).__name__, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    async with store.lock(conversation_id):
        print("acquired", time.time(), flush=True)
        await loop.run_in_executor(None, sys.stdin.read)
    print("released", flush=True)

asyncio.run(main(sys.argv[2]))
"""


class Taker:
    """A process taking one conversation's lock through the Sentinel lock store."""

    def __init__(self, cluster: Cluster, conversation_id: str, log: Path) -> None:
        env = {
            **os.environ,
            "PYTHONWARNINGS": "ignore",
            **cluster.redis_env(),
            "TICKET_LOCK_LIFETIME": LOCK_LIFETIME,
            "PYTHONPATH": str(BOT_DIR),
        }
        python = rasa_executable().parent / "python"
        endpoints = str(BOT_DIR / "endpoints.sentinel.yml")
        self.proc = subprocess.Popen(
            [str(python), "-c", TAKER, endpoints, conversation_id],
            cwd=BOT_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("ab"),
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("exited")

    def said(self, timeout: float = BOUND) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return f"nothing in {timeout:.0f} s"

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def kill(self) -> float:
        """kill -9; the wall-clock time it was dead by."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        return time.time()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def takers(redis_behind_sentinel: Cluster) -> Iterator[tuple[Taker, Taker, str]]:
    conversation_id = f"locks-{uuid.uuid4().hex[:8]}"
    logs = redis_behind_sentinel.directory / "logs"
    first, second = (
        Taker(redis_behind_sentinel, conversation_id, logs / f"{conversation_id}-{name}.log")
        for name in ("holder", "waiter")
    )
    try:
        for taker in (first, second):
            assert taker.said().startswith("ready SentinelLockStore")
        yield first, second, conversation_id
    finally:
        first.stop()
        second.stop()


def tickets(cluster: Cluster, conversation_id: str) -> list[dict[str, float]]:
    """The conversation's queue of tickets on the primary now (Rasa's JSON)."""
    client = redis_client(cluster.port_of(cluster.primary()))
    try:
        client.select(LOCKS_DB)
        raw = client.get(KEY_PREFIX + conversation_id)
    except (redis.RedisError, OSError):
        return []
    finally:
        client.close()
    if not raw:
        return []
    return [json.loads(t) for t in json.loads(raw)["tickets"]]


def until_tickets(cluster: Cluster, conversation_id: str, count: int, renewed: bool) -> None:
    """Polls the queue (state, not time) until it holds `count` live tickets; `renewed`: the
    first one's expiry moved on after it was read first (its holder renews it)."""
    deadline = time.monotonic() + BOUND
    first_seen: float | None = None
    while time.monotonic() < deadline:
        queued = tickets(cluster, conversation_id)
        live = [t for t in queued if t["expires"] > time.time()]
        if len(live) == count:
            first_seen = first_seen or live[0]["expires"]
            if not renewed or live[0]["expires"] > first_seen:
                return
        time.sleep(0.05)  # polling Redis's state
    raise AssertionError(f"the queue never held {count} tickets: {queued}")


def test_a_turn_queued_behind_a_killed_rasa_is_served(
    redis_behind_sentinel: Cluster, takers: tuple[Taker, Taker, str]
) -> None:
    cluster = redis_behind_sentinel
    holder, waiter, conversation_id = takers
    holder.go()
    assert holder.said().startswith("acquired")
    waiter.go()  # the gateway sends the turn to the other Rasa a moment later
    until_tickets(cluster, conversation_id, 2, renewed=False)
    killed = holder.kill()

    answer = waiter.said()
    assert answer.startswith("acquired"), answer
    took = float(answer.split()[1]) - killed
    print(f"locks: served {took:.1f} s after the holder was killed (lifetime {LOCK_LIFETIME} s)")
    waiter.release()
    assert waiter.said() == "released"
    assert tickets(cluster, conversation_id) == []  # nothing left behind


def test_a_live_holder_keeps_its_turn_through_a_failover_and_a_dead_one_does_not(
    redis_behind_sentinel: Cluster, takers: tuple[Taker, Taker, str]
) -> None:
    cluster = redis_behind_sentinel
    holder, waiter, conversation_id = takers
    holder.go()
    assert holder.said().startswith("acquired")
    old = cluster.primary()
    cluster.kill(old)
    try:
        seconds = cluster.wait_failover(old)
        print(f"locks: failover {old} -> {cluster.primary()} in {seconds:.1f} s")
        # The holder renews its ticket on the new primary (put back if the failover lost it).
        until_tickets(cluster, conversation_id, 1, renewed=True)
        waiter.go()
        until_tickets(cluster, conversation_id, 2, renewed=True)
        killed = holder.kill()

        answer = waiter.said()
        assert answer.startswith("acquired"), answer
        assert float(answer.split()[1]) >= killed  # never while the holder lived
        waiter.release()
        assert waiter.said() == "released"
        assert tickets(cluster, conversation_id) == []
    finally:
        cluster.start_part(old)  # back as a replica of the new primary
