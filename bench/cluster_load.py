"""Load for bench/cluster.py, run in generator processes (bench/common.py run_generators).

- `from_sources`: runs another bench's load (relay.relay_load, common.widget_turns) with every
  Socket.IO client it makes connecting from the next of several loopback addresses: nginx
  hashes the client address, so clients from one address would all reach one gateway.
- `storm`: widget connections (bench/storm_client.py) that each start a conversation, say
  they are ready (a file), and when their gateway process is killed reconnect as frontdesk's
  widget does (1 s doubling to 15 s, ±75 % jitter) through nginx, resuming with their token (a
  session_request refused is asked again after its retry_after, jittered); they stay
  connected until all are back, as widgets would. Returns when each connection
  has its session_confirm again: the times, and whether the id stayed the same.
- `keep_writing`: one customer sending a message after another through a Redis failover,
  each sent again with the same client_msg_id while refused (`store_unavailable`).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections import Counter
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
    `sources`; after it dies, each reconnects through `url` (nginx). The connections are
    bench/storm_client.py's (the widget's wire protocol without python-socketio's cost)."""
    import aiohttp
    from storm_client import StormSocket

    sessions = [
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(s, 0), limit=0))
        for s in sources
    ]
    confirmed: list[float] = []
    same = changed = failed = started = 0
    everyone = asyncio.Event()  # every connection has its conversation
    everyone_back = asyncio.Event()  # every connection has it again (or gave up)
    gate = asyncio.Semaphore(100)
    noticed: list[float] = []  # when each connection saw its process go
    connected: list[float] = []  # when each was connected again (before its session_request)
    attempts: Counter[int] = Counter()  # connections by the attempts they needed
    errors: Counter[str] = Counter()  # failed attempts by phase and error
    refusals: Counter[str] = Counter()  # frontdesk_error codes the server sent
    cpu_at_loss: list[float] = []  # this process's CPU time when the first saw it go

    async def start(sio: StormSocket, session: dict[str, str]) -> None:
        request: dict[str, Any] = {"session_id": session["id"], "frontdesk": 1}
        if sio.token:
            request["resume_token"] = sio.token
        while True:  # refused (Redis failing over, a limit): asked again, as the widget does
            ack = await sio.call("session_request", request, timeout=60)
            refused = ack[0] if ack and isinstance(ack[0], dict) else {}
            if refused.get("ok") is not False:
                break
            retry_after = float(refused["error"].get("retry_after") or 1)
            await asyncio.sleep(retry_after * random.uniform(0.5, 1.5))
        session["id"] = await asyncio.wait_for(sio.confirms.get(), 60)

    def counted() -> None:
        nonlocal started
        started += 1
        if started == count:
            everyone.set()

    def settled() -> None:
        if len(confirmed) + failed == count:  # every connection back, or given up
            everyone_back.set()

    async def one(index: int) -> None:
        nonlocal same, changed, failed
        session = {"id": uuid.uuid4().hex}
        sio = StormSocket(sessions[index % len(sessions)])
        try:
            async with gate:
                await sio.connect(victim, 60)
                await start(sio, session)
        except Exception:
            failed += 1
            counted()
            settled()
            await sio.close()
            return
        first = session["id"]
        counted()
        await sio.lost.wait()
        if not noticed:
            cpu_at_loss.append(time.process_time())
        noticed.append(time.monotonic())
        for attempt in itertools.count():
            await asyncio.sleep(_delay(attempt))
            phase = "connect"
            try:
                await sio.connect(url, 30)
                connected_at = time.monotonic()
                phase = "session"
                await start(sio, session)
                break
            except Exception as exc:
                errors[f"{phase}: {type(exc).__name__} {str(exc)[:60]}"] += 1
                if attempt >= 10:
                    failed += 1
                    settled()
                    await sio.close()
                    return
        attempts[attempt + 1] += 1
        confirmed.append(time.monotonic())
        connected.append(connected_at)
        refusals.update(sio.errors)
        same, changed = same + (session["id"] == first), changed + (session["id"] != first)
        settled()
        await everyone_back.wait()  # widgets stay: no disconnects while others reconnect
        await sio.close()

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await everyone.wait()
    await asyncio.to_thread(Path(ready_file).write_text, str(count - failed))
    await asyncio.gather(*tasks)
    for http in sessions:
        await http.close()
    return {
        "confirmed": confirmed,
        "noticed": noticed,
        "connected": connected,
        "attempts": dict(attempts),
        "errors": dict(errors),
        "refusals": dict(refusals),
        "same": same,
        "changed": changed,
        "failed": failed,
        "cpu": time.process_time() - (cpu_at_loss or [time.process_time()])[0],
    }


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
