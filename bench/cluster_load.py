"""Load for bench/cluster.py, run in generator processes (bench/common.py run_generators).

- `from_sources`: runs another bench's load (relay.relay_load, common.widget_turns) with every
  Socket.IO client it makes connecting from the next of several loopback addresses: nginx
  hashes the client address, so clients from one address would all reach one gateway.
- `storm`: widget connections that each start a conversation, say they are ready (a file), and
  when their gateway process is killed reconnect as frontdesk's widget does (1 s doubling to
  15 s, ±75 % jitter) through nginx, resuming with their token. Returns when each connection
  has its session_confirm again: the times, and whether the id stayed the same.
- `keep_writing`: one customer sending a message after another through a Redis failover,
  each sent again with the same client_msg_id while refused (`store_unavailable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any


def _bind_clients(sources: list[str]) -> None:
    """Every socketio.AsyncClient made from now on connects from the next address."""
    import aiohttp
    import socketio

    cycle: Iterator[str] = itertools.cycle(sources)
    made = socketio.AsyncClient.__init__

    def session(source: str) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        source = next(cycle)
        kwargs.setdefault("http_session", lambda: session(source))
        made(self, *args, **kwargs)

    socketio.AsyncClient.__init__ = init


async def from_sources(sources: list[str], load: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    _bind_clients(sources)
    return await load(*args)


def _delay(attempt: int) -> float:
    return float(min(1.0 * 2**attempt, 15.0) * (1 + random.uniform(-0.75, 0.75)))


async def storm(
    url: str, victim: str, sources: list[str], count: int, ready_file: str
) -> dict[str, Any]:
    """`count` connections to `victim` (a gateway's own URL: all on that process), from
    `sources`; after it dies, each reconnects through `url` (nginx)."""
    import socketio

    _bind_clients(sources)
    confirmed: list[float] = []
    same = changed = failed = started = 0
    everyone = asyncio.Event()  # every connection has its conversation
    gate = asyncio.Semaphore(100)

    async def start(sio: Any, session: dict[str, str], events: asyncio.Queue[Any]) -> None:
        request: dict[str, Any] = {"session_id": session["id"], "frontdesk": 1}
        if session.get("token"):
            request["resume_token"] = session["token"]
        await sio.emit("session_request", request)
        session["id"] = await asyncio.wait_for(events.get(), 60)

    def counted() -> None:
        nonlocal started
        started += 1
        if started == count:
            everyone.set()

    async def one() -> None:
        nonlocal same, changed, failed
        events: asyncio.Queue[Any] = asyncio.Queue()
        lost = asyncio.Event()
        session = {"id": uuid.uuid4().hex}
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("session_confirm", events.put_nowait)
        sio.on("session_token", lambda data: session.update(token=data["token"]))
        sio.on("disconnect", lambda *reason: lost.set())
        try:
            async with gate:
                await sio.connect(victim, transports=["websocket"], wait_timeout=60)
                await start(sio, session, events)
        except Exception:
            failed += 1
            counted()
            return
        first = session["id"]
        counted()
        await lost.wait()
        for attempt in itertools.count():
            await asyncio.sleep(_delay(attempt))
            with contextlib.suppress(Exception):
                await sio.disconnect()
            try:
                await sio.connect(url, transports=["websocket"], wait_timeout=30)
                await start(sio, session, events)
                break
            except Exception:
                if attempt >= 10:
                    failed += 1
                    return
        confirmed.append(time.monotonic())
        same, changed = same + (session["id"] == first), changed + (session["id"] != first)
        await sio.disconnect()

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    await everyone.wait()
    await asyncio.to_thread(Path(ready_file).write_text, str(count - failed))
    await asyncio.gather(*tasks)
    return {"confirmed": confirmed, "same": same, "changed": changed, "failed": failed}


async def keep_writing(url: str, source: str, stop_file: str) -> dict[str, Any]:
    """Messages one after another until `stop_file` exists; the time of each acknowledgement
    and of each refusal."""
    _bind_clients([source])
    import socketio

    sio = socketio.AsyncClient(reconnection=False)
    confirmed: asyncio.Queue[Any] = asyncio.Queue()
    sio.on("session_confirm", confirmed.put_nowait)
    await sio.connect(url, transports=["websocket"])
    await sio.emit("session_request", {"session_id": uuid.uuid4().hex, "frontdesk": 1})
    session_id = await asyncio.wait_for(confirmed.get(), 30)
    acked: list[float] = []
    refused: list[float] = []
    while not await asyncio.to_thread(Path(stop_file).exists):
        msg_id = uuid.uuid4().hex
        while True:
            payload = {"message": "where is my order?", "session_id": session_id}
            try:
                ack = await sio.call(
                    "user_uttered", {**payload, "client_msg_id": msg_id}, timeout=10
                )
            except socketio.exceptions.TimeoutError:
                refused.append(time.monotonic())
                continue
            if ack.get("ok"):
                acked.append(time.monotonic())
                break
            refused.append(time.monotonic())
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.2)
    await sio.disconnect()
    return {"acked": acked, "refused": refused}
