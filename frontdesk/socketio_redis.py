"""Socket.IO over Redis (SOCKETIO_REDIS=on), watched: the process knows when it stops hearing.

python-socketio's AsyncRedisManager carries emits between gateway processes over Redis pub/sub.
Its listener can stop hearing without anything noticing (python-socketio #1581: Redis dropped
the subscriber at its client-output-buffer-limit and the node was deaf for a day): the process
still serves its own customers, but agents and customers on other processes no longer reach
them. So every HEARTBEAT_EVERY seconds the process publishes a heartbeat to itself through the
manager, and its listener notes when the heartbeat comes back. `/healthz` answers 503 when it
has not for LISTENER_DEAF_AFTER seconds, so a balancer takes the process out (or systemd
restarts it); it answers 200 again as soon as the listener hears (it reconnects by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web

from frontdesk.keys import REDIS_URL, SIO

log = logging.getLogger(__name__)

CHANNEL = "frontdesk:socketio"
HEARTBEAT_EVERY = 2.0  # seconds between heartbeats through the manager
LISTENER_DEAF_AFTER = 6.0  # seconds without its own heartbeat back before /healthz fails
SUBSCRIBE_WAIT = 5.0  # seconds start-up waits for the first subscription
HEARTBEAT = "frontdesk_heartbeat"  # python-socketio ignores methods it does not know
_MARK = HEARTBEAT.encode()


class WatchedRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """AsyncRedisManager whose listener notes this process's own heartbeats."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        super().__init__(url, channel=channel)
        self.heard = time.monotonic()  # when our own heartbeat last came back (or start-up)

    async def _listen(self) -> AsyncIterator[Any]:
        async for data in super()._listen():
            if _MARK in data and self._own_heartbeat(data):
                self.heard = time.monotonic()
                continue
            yield data

    def _own_heartbeat(self, data: bytes) -> bool:
        try:
            message = json.loads(data)
        except ValueError:
            return False
        return (
            isinstance(message, dict)
            and message.get("method") == HEARTBEAT
            and message.get("host_id") == self.host_id
        )

    async def beat(self) -> None:
        await self._publish({"method": HEARTBEAT, "host_id": self.host_id})

    def deaf_for(self) -> float:
        """Seconds since the listener last heard this process (0 while it hears)."""
        silent = time.monotonic() - self.heard
        listening = self.thread is not None and not self.thread.done()
        if not listening:
            return max(silent, LISTENER_DEAF_AFTER)
        return silent if silent > LISTENER_DEAF_AFTER else 0.0


LISTENER = web.AppKey("socketio_listener", WatchedRedisManager)


def listener_problem(app: web.Application) -> str | None:
    """What /healthz reports about the Socket.IO Redis listener: None when it hears."""
    manager = app.get(LISTENER)
    if manager is None:
        return None
    deaf = manager.deaf_for()
    if not deaf:
        return None
    return f"socketio redis listener: own heartbeat not heard for {deaf:.0f} s"


async def socketio_redis_ctx(app: web.Application) -> AsyncIterator[None]:
    """SOCKETIO_REDIS=on: Socket.IO emits travel over Redis pub/sub, so a customer connected to
    one gateway process and an agent connected to another reach each other. The manager is made
    here, not in make_app, because the embedded Redis's URL is only known once it has started.
    Behind Sentinel the URL is redis+sentinel://…, which python-socketio follows itself."""
    sio = app[SIO]
    manager = WatchedRedisManager(app[REDIS_URL])
    manager.set_server(sio)
    sio.manager = manager
    # Listen now rather than at the first connection (python-socketio's default), and wait
    # (bounded) for the subscription, so no emit from another process is missed at start-up.
    sio.manager_initialized = True
    manager.initialize()
    deadline = time.monotonic() + SUBSCRIBE_WAIT
    while not (manager.pubsub is not None and manager.pubsub.subscribed):
        if time.monotonic() > deadline:
            log.warning("Socket.IO Redis manager not subscribed yet; continuing")
            break
        await asyncio.sleep(0.01)
    manager.heard = time.monotonic()
    app[LISTENER] = manager
    heartbeat = asyncio.create_task(_heartbeat(manager))
    yield
    heartbeat.cancel()
    manager.thread.cancel()
    for task in (heartbeat, manager.thread):
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if manager.redis is not None:
        await manager.redis.aclose()


async def _heartbeat(manager: WatchedRedisManager) -> None:
    was_deaf = False
    while True:
        try:
            await manager.beat()  # python-socketio logs (and survives) a failed publish
        except Exception:
            log.exception("Socket.IO Redis heartbeat failed")
        deaf = manager.deaf_for() > 0
        if deaf != was_deaf:
            if deaf:
                log.error("Socket.IO Redis listener deaf: /healthz answers 503 until it hears")
            else:
                log.warning("Socket.IO Redis listener hears again")
            was_deaf = deaf
        await asyncio.sleep(HEARTBEAT_EVERY)
