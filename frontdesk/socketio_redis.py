"""Socket.IO over Redis (SOCKETIO_REDIS=on), watched: the process knows when it stops hearing.

python-socketio's AsyncRedisManager carries emits between gateway processes over Redis pub/sub.
Its listener can stop hearing without anything noticing (python-socketio #1581: Redis dropped
the subscriber at its client-output-buffer-limit and the node was deaf for a day): the process
still serves its own customers, but agents and customers on other processes no longer reach
them. So every HEARTBEAT_EVERY seconds the process publishes a heartbeat to itself through the
manager, and its listener notes when the heartbeat comes back. `/healthz` answers 503 when it
has not for LISTENER_DEAF_AFTER seconds, so a balancer takes the process out (or systemd
restarts it); it answers 200 again as soon as the listener hears (it reconnects by itself).

**Nothing published is lost while Redis fails over** (python-socketio #1411: a publish gave up
after two tries, a listener waited 1, 2, 4… seconds to subscribe again, and an emit made in
between — an agent's `case_message`, a customer's answer — never reached the other process).
Here a publish keeps trying for PUBLISH_PATIENCE seconds (a Sentinel failover takes about 3),
a listener subscribes again within LISTEN_RETRY seconds, and while Redis is recovering a
publish that fewer listeners heard than there are live processes (each process's heartbeat is
heard by all) is said again for up to RECEIVER_PATIENCE seconds; each message carries an id,
so a listener that heard it the first time drops the repeat. In steady state a publish is one
PUBLISH, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web

from frontdesk.channels.emitting import DirectEmit
from frontdesk.keys import REDIS_URL, SIO
from frontdesk.socketio_rooms import RoomIndex

log = logging.getLogger(__name__)

CHANNEL = "frontdesk:socketio"
HEARTBEAT_EVERY = 2.0  # seconds between heartbeats through the manager
LISTENER_DEAF_AFTER = 6.0  # seconds without its own heartbeat back before /healthz fails
SUBSCRIBE_WAIT = 5.0  # seconds start-up waits for the first subscription
HEARTBEAT = "frontdesk_heartbeat"  # python-socketio ignores methods it does not know
_MARK = HEARTBEAT.encode()
PUBLISH_PATIENCE = 30.0  # seconds a publish keeps trying while Redis is unreachable
RECOVERING_FOR = 10.0  # seconds after a Redis error during which listeners are counted
# seconds a publish is repeated while a live listener missed it (a failover takes about 3 s)
RECEIVER_PATIENCE = RECOVERING_FOR
LISTEN_RETRY = 0.25  # seconds between a listener's attempts to subscribe again
PEER_GONE_AFTER = 2.5 * HEARTBEAT_EVERY  # a process not heard this long is not counted
_ID = b'"fd_id": "'
SEEN_IDS = 20000  # message ids remembered to drop repeats


class WatchedRedisManager(RoomIndex, socketio.AsyncRedisManager, DirectEmit):  # type: ignore[misc]
    """AsyncRedisManager whose listener notes this process's own heartbeats; a disconnect
    leaves only its own rooms (RoomIndex), and an emit to one connection of this process is
    not published to the others."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        super().__init__(url, channel=channel)
        self.heard = time.monotonic()  # when our own heartbeat last came back (or start-up)
        self.connected: bool = bool(self.connected)  # python-socketio's flag, typed
        self.peers: dict[str, float] = {}  # process (host id) -> when its heartbeat was heard
        self.recovering_until = 0.0  # Redis failed a moment ago: count who hears a publish
        self.failed_at = 0.0  # when the current recovery began
        self._seen: set[bytes] = set()
        self._seen_order: deque[bytes] = deque()

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        target = to or room
        namespace = namespace or "/"
        if (
            callback is None
            and not kwargs.get("ignore_queue")
            and isinstance(target, str)
            and self.is_connected(target, namespace)
        ):  # one connection, and it is here: no other process could deliver it
            await DirectEmit.emit(self, event, data, namespace, target, skip_sid)
            return
        await super().emit(event, data, namespace, room, skip_sid, callback, to, **kwargs)

    async def _listen(self) -> AsyncIterator[Any]:
        async for data in super()._listen():
            if _MARK in data:
                sender = self._heartbeat_of(data)
                if sender is not None:
                    self.peers[sender] = time.monotonic()
                    if sender == self.host_id:
                        self.heard = time.monotonic()
                    continue
            at = data.rfind(_ID)
            if at >= 0:
                message_id = data[at + len(_ID) : at + len(_ID) + 32]
                if message_id in self._seen:
                    continue  # said again during a failover; this process heard it already
                self._remember(message_id)
            yield data

    def _remember(self, message_id: bytes) -> None:
        self._seen.add(message_id)
        self._seen_order.append(message_id)
        if len(self._seen_order) > SEEN_IDS:
            self._seen.discard(self._seen_order.popleft())

    def _heartbeat_of(self, data: bytes) -> str | None:
        try:
            message = json.loads(data)
        except ValueError:
            return None
        if isinstance(message, dict) and message.get("method") == HEARTBEAT:
            return str(message.get("host_id"))
        return None

    def live_processes(self) -> int:
        """The processes whose listeners should hear a publish: those heard lately and, while
        Redis recovers, those heard shortly before it failed. Their listeners are subscribing
        again and no heartbeat got through meanwhile; counted only by when they were last
        heard, a failover longer than PEER_GONE_AFTER would count none of them, and a publish
        made before they listen again would be lost to them."""
        now = time.monotonic()
        since = now - PEER_GONE_AFTER
        if now < self.recovering_until:
            since = min(since, self.failed_at - PEER_GONE_AFTER)
        return max(1, sum(1 for seen in self.peers.values() if seen > since))

    def _failing(self) -> None:
        """Redis failed just now: a recovery begins, or the current one goes on."""
        now = time.monotonic()
        if now >= self.recovering_until:
            self.failed_at = now
        self.recovering_until = now + RECOVERING_FOR

    async def _publish(self, data: dict[str, Any]) -> Any:
        heartbeat = data.get("method") == HEARTBEAT
        payload = self.json.dumps(data)
        if not heartbeat:  # an id at the end, where the listener finds it cheaply
            payload = payload[:-1] + f', "fd_id": "{uuid.uuid4().hex}"}}'
        started = time.monotonic()
        patience = HEARTBEAT_EVERY if heartbeat else PUBLISH_PATIENCE
        delay = 0.05
        failed = False
        while True:
            try:
                if not self.connected:
                    self._redis_connect()
                heard = await self.redis.publish(self.channel, payload)
            except Exception as exc:
                self.connected = False
                self._failing()
                if time.monotonic() - started > patience:
                    log.error(
                        "Socket.IO over Redis: could not publish for %.0f s: %s", patience, exc
                    )
                    return None
                if not failed:
                    log.warning("Socket.IO over Redis: publish failed (%s); trying again", exc)
                    failed = True
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)
                continue
            if failed:
                log.warning(
                    "Socket.IO over Redis: published again after %.1f s", time.monotonic() - started
                )
            if (
                heartbeat
                or time.monotonic() > self.recovering_until
                or int(heard) >= self.live_processes()
                or time.monotonic() - started > RECEIVER_PATIENCE
            ):
                return heard
            await asyncio.sleep(0.1)  # a listener is subscribing again: say it once more

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        """python-socketio's, with a short, constant wait between attempts to subscribe again
        (its own doubles up to 60 s: a failover would leave the process deaf for seconds)."""
        subscribed = False
        failing = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)
                    subscribed = True
                    if failing:
                        log.warning("Socket.IO over Redis: listening again")
                        failing = False
                async for message in self.pubsub.listen():
                    yield message
            except Exception as exc:
                if not failing:
                    log.error("Socket.IO over Redis: cannot receive (%s); subscribing again", exc)
                    failing = True
                self._failing()
                subscribed = False
                await asyncio.sleep(LISTEN_RETRY)

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
