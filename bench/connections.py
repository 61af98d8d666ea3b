"""Item 5 — connections: 10,000 idle widget connections to one gateway process.

Generator processes (default 4) open websocket Socket.IO connections to one gateway and do the
widget's session_request (→ session_confirm + history), then hold them idle. They speak the
protocol's text frames themselves (`WidgetSocket`): python-socketio's client took a whole core
for 4 generators, more than the gateway, and on two cores the figure was the clients'. The
gateway's RSS is read from /proc before and after; per connection = the difference /
connections. Target: under 1 GB in all. The open-file limit is raised for the gateway and the
generators.

Printed per session_request (counted, so they hold on a busy machine): the gateway's CPU
milliseconds (its process CPU time over the window from the first connection to the last
session_confirm) and its Redis round trips (a pipeline or script counts once; bench/profiled.py
wraps the gateway). Target: >= 1,000 session_requests per second on one process (10,000
connections in <= 10 s). `--profile DIR` runs the gateway under cProfile for exactly that window
and prints its top functions; DIR/gateway.pstats keeps the whole profile. The gateway checks its
limits per address, set too high to refuse anyone (every generator connects from 127.0.0.1).

    .venv/bin/python bench/connections.py [--connections 10000] [--generators 4] [--quick]
        [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # type: ignore[import-untyped]
from common import (
    PYTHON,
    GeneratorRun,
    Services,
    WindowCpu,
    _http_ok,
    figure,
    free_port,
    print_header,
    raise_fd_limit,
    ratio_text,
    rss_bytes,
    run_generators,
    shares_text,
)
from procs import wait_until

BENCH = "connections"
MB = 1024 * 1024
TARGET_RATE = 1000  # session_requests per second on one process


def process_cpu(process: psutil.Process) -> float:
    """User + system CPU seconds of the process so far."""
    times = process.cpu_times()
    return float(times.user + times.system)


def meter_trips(meter: Path) -> int:
    """The Redis round trips bench/profiled.py counted in the gateway over the window."""
    path = Path(f"{meter}.json")
    wait_until(path.exists, 30, "the gateway's meter")
    return int(json.loads(path.read_text())["redis_round_trips"])


def print_profile(path: Path, sessions: int, top: int = 10) -> None:
    """The gateway's top functions by own and by cumulative time, with calls per session."""
    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = stats.stats  # type: ignore[attr-defined]

    def name(func: tuple[str, int, str]) -> str:
        file, line, fn = func
        for marker in ("site-packages/", "/work/main/", "lib/python3"):
            if marker in file:
                file = file.split(marker, 1)[1]
        return f"{fn} ({file}:{line})"

    print(f"   profile of the gateway over the window: {total:.2f} s profiled, {sessions} sessions")
    for title, index in (("own time", 2), ("cumulative time", 3)):
        print(f"   top {top} by {title}: share of profiled time, calls per session_request")
        ordered = sorted(rows.items(), key=lambda item: item[1][index], reverse=True)
        for func, (_cc, nc, tt, ct, _callers) in ordered[:top]:
            value = tt if index == 2 else ct
            print(f"     {value / total:6.1%}  {nc / max(sessions, 1):7.2f}/session  {name(func)}")


class WidgetSocket:
    """A widget's connection spoken straight in Engine.IO 4 / Socket.IO 5 text frames over
    aiohttp's WebSocket client: the handshakes, `session_request`, `session_confirm`, then an
    idle connection that answers the server's pings. python-socketio's client costs more CPU
    per connection than the gateway does per session (bench/connections.py measured the
    generators at a whole core while the gateway had a quarter of one to spare): on two cores
    the figure was the clients'. The server sees exactly what python-socketio's client sends
    over the websocket transport."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, http: Any, url: str, session_id: str, timeout: float) -> WidgetSocket:
        ws = await http.ws_connect(
            f"{url}/socket.io/?EIO=4&transport=websocket", timeout=timeout, autoping=True
        )
        widget = cls(ws)
        try:
            async with asyncio.timeout(timeout):
                await widget._until("0")  # Engine.IO open
                await ws.send_str("40")  # Socket.IO connect to "/"
                await widget._until("40")
                request = {"session_id": session_id, "frontdesk": 1}
                await ws.send_str("42" + json.dumps(["session_request", request]))
                await widget._until('42["session_confirm"')
        except BaseException:
            await ws.close()
            raise
        widget.reader = asyncio.create_task(widget._idle())
        return widget

    async def _until(self, prefix: str) -> None:
        while True:
            message = await self.ws.receive()
            if not isinstance(message.data, str):
                raise ConnectionError(f"connection closed ({message.type})")
            if message.data == "2":  # Engine.IO ping
                await self.ws.send_str("3")
            elif message.data.startswith(prefix):
                return

    async def _idle(self) -> None:
        """Read what the server sends (history, settings, greeting) and answer its pings."""
        async for message in self.ws:
            if message.data == "2":
                await self.ws.send_str("3")

    @property
    def connected(self) -> bool:
        return not self.ws.closed

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()


async def hold_connections(
    url: str, count: int, index: int, concurrency: int, signals: str, pids: dict[str, int]
) -> dict[str, Any]:
    """Open `count` idle widget sessions, report, hold them until released, then close."""
    import aiohttp

    folder = Path(signals)
    clients: list[WidgetSocket] = []
    failures = retries = 0
    kinds: dict[str, int] = {}
    gate = asyncio.Semaphore(concurrency)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def one(n: int) -> None:
        nonlocal failures, retries
        async with gate:
            for attempt in range(3):  # a widget whose connection fails tries again
                try:
                    clients.append(await WidgetSocket.open(http, url, f"idle-{index}-{n}", 60))
                    return
                except Exception as exc:  # counted and reported
                    kind = f"{type(exc).__name__}: {exc}"[:80]
                    kinds[kind] = kinds.get(kind, 0) + 1
                    if attempt == 2:
                        failures += 1
                    else:
                        retries += 1

    window = WindowCpu(pids)
    t0 = time.monotonic()
    await asyncio.gather(*(one(n) for n in range(count)))
    took = time.monotonic() - t0
    shares = window.shares()
    (folder / f"ready-{index}").write_text(f"{len(clients)} {failures}")
    # The parent process measures the gateway meanwhile, then creates the file.
    while not (folder / "release").exists():  # noqa: ASYNC110 — another process's signal
        await asyncio.sleep(0.2)
    connected = sum(1 for c in clients if c.connected)
    await asyncio.gather(*(c.close() for c in clients))  # a few seconds, not minutes
    await http.close()
    return {
        "connected": len(clients),
        "still": connected,
        "failures": failures,
        "took": took,
        "cpu": shares,
        "kinds": kinds,
        "retries": retries,
    }


def bare_server(port: int) -> None:
    """A bare python-socketio server answering session_request as the gateway does to
    frontdesk's widget (session_confirm, session_token, history, widget_config), storing
    nothing: the floor of the Socket.IO work per connection."""
    import secrets

    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
    app = web.Application()
    sio.attach(app)

    @sio.on("session_request")  # type: ignore[untyped-decorator]
    async def session_request(sid: str, data: Any) -> None:
        session_id = secrets.token_hex(16)
        await sio.emit("session_confirm", session_id, to=sid)
        await sio.emit("session_token", {"session_id": session_id, "token": "t" * 43}, to=sid)
        history = {"session_id": session_id, "last_seq": 0, "messages": []}
        await sio.emit("history", history, to=sid)
        config = {"status_text": "Typically replies in a few minutes", "language": "en"}
        await sio.emit("widget_config", config, to=sid)

    web.run_app(app, host="127.0.0.1", port=port, print=None)


@dataclass
class Phase:
    run: GeneratorRun
    measured: dict[str, float]


def measure_phase(
    args: argparse.Namespace,
    url: str,
    server: subprocess.Popen[bytes],
    signals: Path,
    meter: Path | None = None,
) -> Phase:
    """Open the connections to one server and hold them; its CPU over the window from the
    first connection to the last session_confirm, its RSS before and with them all open (and
    with a `meter`, bench/profiled.py's Redis round trips over the same window)."""
    signals.mkdir()
    time.sleep(1)
    process = psutil.Process(server.pid)
    measured: dict[str, float] = {"before": rss_bytes(server.pid)}
    if meter is not None:
        os.kill(server.pid, signal.SIGUSR1)  # bench/profiled.py: the window starts
    cpu_before = process_cpu(process)
    per = [args.connections // args.generators] * args.generators
    per[0] += args.connections - sum(per)

    def measure_when_ready() -> None:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if len(list(signals.glob("ready-*"))) == args.generators:
                break
            time.sleep(0.2)
        measured["cpu"] = process_cpu(process) - cpu_before
        if meter is not None:
            os.kill(server.pid, signal.SIGUSR2)  # bench/profiled.py: it ends (figures written)
            measured["trips"] = meter_trips(meter)
        time.sleep(args.settle)
        measured["after"] = rss_bytes(server.pid)
        (signals / "release").write_text("")

    watcher = threading.Thread(target=measure_when_ready, daemon=True)
    watcher.start()
    run = run_generators(
        hold_connections,
        [
            (url, n, i, args.concurrency, str(signals), {"server": server.pid})
            for i, n in enumerate(per)
        ],
    )
    watcher.join()
    return Phase(run, measured)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--generators", type=int, default=4)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=25,
        help="connections being opened at once per generator (all generators "
        "together stay under the gateway's listen backlog of 128)",
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds to wait before reading RSS"
    )
    parser.add_argument(
        "--quick", action="store_true", help="200 connections, 1 generator: checks that it runs"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="cProfile the gateway while connections open; prints its top functions",
    )
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_server:
        bare_server(args.bare_server)
        return 0
    if args.quick:
        args.connections, args.generators, args.settle = 200, 1, 0.5
    limit = raise_fd_limit(max(65536, args.connections * 2 + 1000))
    print_header("bench/connections.py — idle widget connections to one gateway process")
    print(
        f"   {args.connections} connections from {args.generators} generator processes "
        f"(websocket, session_request done); open-file limit {limit}"
    )

    with Services(BENCH) as services:
        bare_port = free_port()
        bare = services.spawn([PYTHON, __file__, "--bare-server", str(bare_port)], "bare.log")
        bare_url = f"http://127.0.0.1:{bare_port}"
        wait_until(lambda: _http_ok(f"{bare_url}/socket.io/?EIO=4&transport=polling"), 30, "bare")
        floor = measure_phase(args, bare_url, bare, services.tmp / "bare-signals")
        services.stop(bare)
        redis_url, _ = services.redis()
        meter = services.tmp / "gateway-meter"
        # No Rasa: idle connections never reach the bot.
        url, gateway = services.gateway(
            redis_url,
            "http://127.0.0.1:9",
            name="gateway",
            wrapper=[
                PYTHON,
                str(Path(__file__).resolve().parent / "profiled.py"),
                *(["--profile"] if args.profile else []),
                str(meter),
            ],
            # Every generator connects from 127.0.0.1: the limits per address are checked (their
            # cost is measured) but set too high to refuse anyone here.
            ADDRESS_MAX_CONNECTIONS="1000000",
            ADDRESS_CONNECTIONS_PER_SECOND="1000000",
            ADDRESS_CONNECTION_BURST="1000000",
            ADDRESS_CONVERSATIONS_PER_SECOND="1000000",
            ADDRESS_CONVERSATION_BURST="1000000",
        )
        phase = measure_phase(args, url, gateway, services.tmp / "signals", meter)
        if args.profile:  # kept before the services' folder goes
            args.profile.mkdir(parents=True, exist_ok=True)
            (args.profile / "gateway.pstats").write_bytes(Path(f"{meter}.pstats").read_bytes())

    run, measured = phase.run, phase.measured
    connected = sum(r["connected"] for r in run.results)
    failures = sum(r["failures"] for r in run.results)
    took = max(r["took"] for r in run.results)
    before, after = measured["before"], measured.get("after", 0)
    delta = after - before
    per_conn = delta / max(connected, 1)
    rate = connected / max(took, 1e-9)
    cpu_ms = measured.get("cpu", 0) * 1000 / max(connected, 1)
    trips = measured.get("trips", 0) / max(connected, 1)
    floor_connected = sum(r["connected"] for r in floor.run.results)
    floor_took = max(r["took"] for r in floor.run.results)
    floor_ms = floor.measured.get("cpu", 0) * 1000 / max(floor_connected, 1)
    floor_kb = (floor.measured.get("after", 0) - floor.measured["before"]) / max(floor_connected, 1)
    print(
        f"   bare python-socketio server (the same four answers, nothing stored): "
        f"{floor_connected} in {floor_took:.1f} s ({floor_connected / max(floor_took, 1e-9):.0f}/s)"
        f", CPU {floor_ms:.2f} ms per session_request, {floor_kb / 1024:.1f} KB per connection"
    )
    print(
        f"   connected {connected} (failed {failures}) in {took:.1f} s "
        f"({rate:.0f}/s); gateway CPU while connecting "
        f"{measured.get('cpu', 0):.1f} s; during connect: "
        + "; ".join(shares_text(r["cpu"]) for r in run.results)
    )
    print(
        f"   per session_request: gateway CPU {cpu_ms:.2f} ms "
        f"(one core: {1000 / max(cpu_ms, 1e-9):.0f} per second at most; "
        f"{cpu_ms / max(floor_ms, 1e-9):.2f}x the bare server's), "
        f"{trips:.2f} Redis round trips"
    )
    kinds: dict[str, int] = {}
    for r in run.results:
        for kind, n in r["kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + n
    retries = sum(r["retries"] for r in run.results)
    for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:5]:
        print(f"   connection attempt failed: {n} x {kind}")
    if retries:
        print(f"   {retries} connection attempts were retried (as a widget would)")
    still = sum(r["still"] for r in run.results)
    print(f"   still connected when measured: {still}")
    print(
        f"   gateway RSS {before / MB:.0f} MB before, {after / MB:.0f} MB with {connected} "
        f"idle connections: +{delta / MB:.0f} MB, {per_conn / 1024:.1f} KB per connection"
    )
    figure(
        BENCH,
        f"session_requests per second on one process ({connected} connections)",
        f"{rate:.0f}/s in {took:.1f} s",
        f"target >= {TARGET_RATE}/s: {'met' if rate >= TARGET_RATE else 'MISSED'}",
    )
    figure(
        BENCH,
        "gateway CPU ms per session_request",
        f"{cpu_ms:.2f} ms",
        f"bare python-socketio server {floor_ms:.2f} ms: " + ratio_text(cpu_ms, floor_ms),
    )
    figure(BENCH, "Redis round trips per session_request", f"{trips:.2f}")
    if args.profile:
        print_profile(args.profile / "gateway.pstats", connected)
    met = after < 1024 * MB and connected == args.connections
    figure(
        BENCH,
        f"gateway RSS with {connected} idle connections",
        f"{after / MB:.0f} MB ({per_conn / 1024:.1f} KB/connection, {before / MB:.0f} MB idle)",
        f"target < 1024 MB: {'met' if met else 'MISSED'}"
        + (f"; {failures} connections failed" if failures else ""),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
