"""Items 3 and 4 — relay: customers <-> agents in agent mode, against a bare Socket.IO echo.

Same run, same load generator (python-socketio AsyncClients in a separate process):

  echo     a bare python-socketio AsyncServer (aiohttp) that sends each `user_uttered` back to
           its sender as `bot_uttered` — the baseline: one message crosses two sockets;
  gateway  one frontdesk gateway: C customers each in a conversation claimed by an agent
           (5 agents). Each pair ping-pongs: customer → agent (`user_uttered` → `case_message`),
           agent → customer (`reply` → `bot_uttered`). Every relayed message is stored in Redis
           and crosses two sockets, like one echo;
  pair     two gateway processes with SOCKETIO_REDIS=on: customers on one, agents on the other.

Handoffs are set up through the real path (customer sends /human_handoff, the gateway queues
the conversation, the agent claims it) with a stub standing in for Rasa; no Rasa is involved
while messages are relayed. By default the server(s) under test are pinned to CPU 0 and the
generator to CPU 1, so "per gateway process" means one core; Redis is not pinned.

Printed per relayed message (counted, so they hold on a busy machine): the Redis commands and
round trips (a pipeline or script counts once) and the gateway's CPU milliseconds.
`--profile DIR` runs the single gateway under cProfile for exactly the measured window
(bench/profiled.py) and prints its top functions; DIR/gateway.pstats keeps the whole profile.

    .venv/bin/python bench/relay.py [--pairs 50] [--messages 100] [--no-pin] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PYTHON,
    Latencies,
    Services,
    WindowCpu,
    _http_ok,
    cpu_seconds,
    figure,
    free_port,
    new_secret,
    pin,
    print_header,
    ratio_text,
    rss_bytes,
    run_generators,
    search_indexer,
    shares_text,
    timed,
    wait_until,
)

BENCH = "relay"
AGENTS = 5


# -- servers run as subprocesses of this bench -------------------------------------------------


def echo_server(port: int) -> None:
    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
    app = web.Application()
    sio.attach(app)

    @sio.on("user_uttered")  # type: ignore[misc]
    async def echo(sid: str, data: Any) -> None:
        await sio.emit("bot_uttered", {"text": data.get("message")}, to=sid)

    web.run_app(app, host="127.0.0.1", port=port, print=None)


def stub_rasa(port: int) -> None:
    """Answers every message as our bot answers /human_handoff (used only to queue cases)."""
    from aiohttp import web

    async def webhook(request: web.Request) -> web.Response:
        # The shape of bot/channels/frontdesk.py: Rasa's REST messages and the parse.
        body = await request.json()
        sender = body.get("sender")
        messages = [
            {"recipient_id": sender, "text": "Of course — I'll bring in a person from our team."},
            {
                "recipient_id": sender,
                "custom": {"frontdesk": {"event": "handoff", "reason": "customer_asked"}},
            },
        ]
        understood = {"intent": {"name": "human_handoff", "confidence": 1.0}, "entities": []}
        return web.json_response({"messages": messages, "understood": understood})

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"model_file": "stub"})

    app = web.Application()
    app.router.add_post("/webhooks/frontdesk/webhook", webhook)
    app.router.add_get("/status", status)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


# -- load (runs in the generator process) ------------------------------------------------------


async def echo_load(
    url: str, clients: int, messages: int, warmup: int, pids: dict[str, int]
) -> dict[str, Any]:
    import socketio

    lat = Latencies()
    socks = []
    for _ in range(clients):
        sio = socketio.AsyncClient(reconnection=False)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        sio.on("bot_uttered", queue.put_nowait)
        await sio.connect(url, transports=["websocket"])
        socks.append((sio, queue))

    async def run(sio: Any, queue: asyncio.Queue[Any], count: int, measure: bool) -> None:
        for i in range(count):
            text = f"m{i}"
            t0 = time.monotonic()
            await sio.emit("user_uttered", {"message": text, "session_id": "x"})
            while (await asyncio.wait_for(queue.get(), 30)).get("text") != text:
                pass
            if measure:
                lat.add(t0, time.monotonic())

    await asyncio.gather(*(run(s, q, warmup, False) for s, q in socks))
    window = WindowCpu(pids)
    cpu0 = cpu_seconds(pids["echo server"])
    await asyncio.gather(*(run(s, q, messages, True) for s, q in socks))
    shares = window.shares()
    cpu = cpu_seconds(pids["echo server"]) - cpu0
    for sio, _ in socks:
        await sio.disconnect()
    return {"echo": lat.to_dict(), "cpu": shares, "cpu_seconds": cpu}


async def relay_load(
    customer_url: str,
    agent_url: str,
    tokens: list[str],
    pairs: int,
    messages: int,
    warmup: int,
    tag: str,
    pids: dict[str, int],
    redis_url: str,
    profile_pid: int = 0,
) -> dict[str, Any]:
    import socketio

    # Customers: connect, ask for a person (the gateway queues the conversation).
    customers: list[tuple[Any, str, asyncio.Queue[Any]]] = []
    joins: list[asyncio.Queue[Any]] = []

    async def customer(index: int) -> None:
        sio = socketio.AsyncClient(reconnection=False)
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        turn_end: asyncio.Queue[Any] = asyncio.Queue()
        confirmed: asyncio.Queue[Any] = asyncio.Queue()
        sio.on("bot_uttered", inbox.put_nowait)
        sio.on("bot_typing", lambda d: None if d["typing"] else turn_end.put_nowait(d))
        sio.on("session_confirm", confirmed.put_nowait)
        joined: asyncio.Queue[Any] = asyncio.Queue()
        sio.on("agent_joined", joined.put_nowait)
        joins.append(joined)
        session_id = f"relay-{tag}-{index}-{time.time_ns()}"
        await sio.connect(customer_url, transports=["websocket"])
        await sio.emit("session_request", {"session_id": session_id, "frontdesk": 1})
        session_id = await asyncio.wait_for(confirmed.get(), 30)  # the id the gateway issued
        await sio.emit("user_uttered", {"message": "/human_handoff", "session_id": session_id})
        await asyncio.wait_for(turn_end.get(), 30)
        customers.append((sio, session_id, inbox))

    await asyncio.gather(*(customer(i) for i in range(pairs)))

    # Agents: connect, learn the queue, claim their cases (round-robin).
    agents: list[tuple[Any, dict[str, asyncio.Queue[Any]]]] = []
    queues: list[Any] = []
    for token in tokens:
        sio = socketio.AsyncClient(reconnection=False)
        per_case: dict[str, asyncio.Queue[Any]] = {}

        def on_message(data: Any, per_case: dict[str, asyncio.Queue[Any]] = per_case) -> None:
            if data["entry"].get("role") == "customer" and data["case_id"] in per_case:
                per_case[data["case_id"]].put_nowait((time.monotonic(), data["entry"]["text"]))

        got_queue: asyncio.Queue[Any] = asyncio.Queue()
        sio.on("case_message", on_message, namespace="/agent")
        sio.on("queue", got_queue.put_nowait, namespace="/agent")
        await sio.connect(
            agent_url, namespaces=["/agent"], auth={"token": token}, transports=["websocket"]
        )
        queues.append(await asyncio.wait_for(got_queue.get(), 30))
        agents.append((sio, per_case))
    case_of = {i["conversation_id"]: i["case_id"] for i in queues[-1]["items"]}
    plan = []
    for index, (csio, session_id, inbox) in enumerate(customers):
        asio, per_case = agents[index % len(agents)]
        case_id = case_of[session_id]
        per_case[case_id] = asyncio.Queue()
        claimed = await asio.call("claim", {"case_id": case_id}, namespace="/agent", timeout=30)
        if not claimed.get("ok"):
            raise RuntimeError(f"claim failed: {claimed}")
        plan.append((csio, session_id, inbox, asio, case_id, per_case[case_id]))
    for joined in joins:  # every customer has been told an agent joined
        await asyncio.wait_for(joined.get(), 30)

    to_agent, to_customer = Latencies(), Latencies()

    async def pingpong(
        csio: Any,
        session_id: str,
        inbox: asyncio.Queue[Any],
        asio: Any,
        case_id: str,
        agent_inbox: asyncio.Queue[Any],
        count: int,
        measure: bool,
    ) -> None:
        for i in range(count):
            text = f"c{i}-{session_id[-6:]}"
            t0 = time.monotonic()
            await csio.emit("user_uttered", {"message": text, "session_id": session_id})
            while True:
                t1, got = await asyncio.wait_for(agent_inbox.get(), 30)
                if got == text:
                    break
            reply = f"a{i}"
            t2 = time.monotonic()
            await asio.emit("reply", {"case_id": case_id, "text": reply}, namespace="/agent")
            while True:
                message = await asyncio.wait_for(inbox.get(), 30)
                if message.get("text") == reply and message["sender"]["kind"] == "agent":
                    break
            if measure:
                to_agent.add(t0, t1)
                to_customer.add(t2, time.monotonic())

    await asyncio.gather(*(pingpong(*p, warmup, False) for p in plan))
    commands0 = await redis_commands(redis_url)
    if profile_pid:
        os.kill(profile_pid, signal.SIGUSR1)  # bench/profiled.py: the window starts
    window = WindowCpu(pids)
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    await asyncio.gather(*(pingpong(*p, messages, True) for p in plan))
    shares = window.shares()
    cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
    if profile_pid:
        os.kill(profile_pid, signal.SIGUSR2)  # bench/profiled.py: it ends (figures written)
    commands1 = await redis_commands(redis_url)
    commands = {
        name: calls - commands0.get(name, 0)
        for name, calls in commands1.items()
        if calls > commands0.get(name, 0)
    }
    commands["info"] = commands.get("info", 0) - 1  # the first INFO of these two
    for sio, *_ in customers:
        await sio.disconnect()
    for sio, _ in agents:
        await sio.disconnect()
    return {
        "to_agent": to_agent.to_dict(),
        "to_customer": to_customer.to_dict(),
        "cpu": shares,
        "cpu_seconds": cpu,
        "redis_commands": {k: v for k, v in commands.items() if v > 0},
    }


async def redis_commands(redis_url: str) -> dict[str, int]:
    """Calls per command the Redis server has processed so far (INFO commandstats); `exec`
    counts the MULTI/EXEC pipelines and `evalsha`/`eval`/`fcall` the scripts."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        info = await client.info("commandstats")
        return {
            name.removeprefix("cmdstat_").lower(): int(stats["calls"])
            for name, stats in info.items()
        }
    finally:
        await client.aclose()


def meter_trips(meter: Path) -> int:
    """The Redis round trips bench/profiled.py counted in the gateway over the window."""
    path = Path(f"{meter}.json")
    wait_until(path.exists, 30, "the gateway's meter")
    return int(json.loads(path.read_text())["redis_round_trips"])


def print_profile(path: Path, messages: int, top: int = 25) -> None:
    """The gateway's top functions by own time, and by cumulative time, per relayed message."""
    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = stats.stats  # type: ignore[attr-defined]

    def name(func: tuple[str, int, str]) -> str:
        file, line, fn = func
        for marker in ("site-packages/", "/work/main/", "lib/python3"):
            if marker in file:
                file = file.split(marker, 1)[1]
        return f"{fn} ({file}:{line})"

    print(f"   profile of the gateway over the window: {total:.2f} s profiled, {messages} messages")
    for title, index in (("own time", 2), ("cumulative time", 3)):
        print(f"   top {top} by {title}: share of profiled time, calls per message")
        ordered = sorted(rows.items(), key=lambda item: item[1][index], reverse=True)
        for func, (_cc, nc, tt, ct, _callers) in ordered[:top]:
            value = tt if index == 2 else ct
            print(f"     {value / total:6.1%}  {nc / max(messages, 1):7.2f}/msg  {name(func)}")


# -- orchestration -------------------------------------------------------------------------------

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def idle_cpu(pid: int, quiet: float = 3.0, limit: float = 60.0) -> float:
    """A process's CPU seconds once they have stopped growing for `quiet` seconds."""
    deadline = time.monotonic() + limit
    last, since = cpu_seconds(pid), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.25)
        now = cpu_seconds(pid)
        if now != last:
            last, since = now, time.monotonic()
    return last


def always_open_flows(tmp: Path) -> Path:
    """A copy of flows/ open around the clock: a handoff queues for an agent at any hour
    (outside the shipped hours it would become a left message, never claimed here)."""
    flows = tmp / "flows"
    shutil.copytree(Path(__file__).resolve().parent.parent / "flows", flows)
    hours = "timezone: UTC\nweekly:\n" + "".join(f"  {d}: ['00:00-24:00']\n" for d in DAYS)
    (flows / "hours.yml").write_text(hours)
    return flows


async def make_agents(redis_url: str, secret: str, prefix: str, capacity: int) -> list[str]:
    import base64

    from redis.asyncio import Redis

    from frontdesk.console.auth import hash_password, socket_token
    from frontdesk.store.agents import AgentStore

    key = base64.urlsafe_b64decode(secret)
    client = Redis.from_url(redis_url)
    store = AgentStore(client)
    tokens = []
    password = hash_password("bench-only")
    for i in range(AGENTS):
        name = f"{prefix}{i}"
        await store.save(
            name,
            {"display_name": f"Agent {i}", "password_hash": password, "capacity": str(capacity)},
        )
        tokens.append(socket_token(key, name))
    await client.aclose()
    return tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50, help="customer/agent conversations")
    parser.add_argument(
        "--messages", type=int, default=100, help="ping-pongs per pair (a window of seconds)"
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/generator")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="cProfile the single gateway while it relays; prints its top functions",
    )
    parser.add_argument("--echo-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stub-rasa", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--quick", action="store_true", help="5 pairs x 3 ping-pongs: checks that it runs"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.messages, args.warmup = 5, 3, 1
    if args.echo_server:
        echo_server(args.echo_server)
        return 0
    if args.stub_rasa:
        stub_rasa(args.stub_rasa)
        return 0

    cores = os.cpu_count() or 1
    pinning = not args.no_pin and cores >= 2
    server_cpu, gen_cpu = ({0}, {1}) if pinning else (None, None)
    print_header("bench/relay.py — customer <-> agent relay vs a bare Socket.IO echo server")
    print(
        f"   {args.pairs} conversations x {args.messages} ping-pongs (+{args.warmup} warm-up), "
        f"{AGENTS} agents; "
        + ("server(s) on CPU 0, generator on CPU 1" if pinning else "no pinning")
    )
    secret = new_secret()
    me = str(Path(__file__).resolve())
    with Services(BENCH) as services:
        redis_url, redis = services.redis()
        echo_port, stub_port = free_port(), free_port()
        echo = services.spawn([PYTHON, me, "--echo-server", str(echo_port)], "echo.log")
        stub = services.spawn([PYTHON, me, "--stub-rasa", str(stub_port)], "stub.log")
        wait_until(lambda: _http_ok(f"http://127.0.0.1:{stub_port}/status"), 30, "stub", stub)
        wait_until(
            lambda: _http_ok(f"http://127.0.0.1:{echo_port}/socket.io/?EIO=4"),
            30,
            "echo server",
            echo,
        )
        pin(echo.pid, server_cpu)
        echo_url = f"http://127.0.0.1:{echo_port}"
        stub_url = f"http://127.0.0.1:{stub_port}"
        meter = services.tmp / "gateway-meter"
        flows = str(always_open_flows(services.tmp))
        single_url, single = services.gateway(
            redis_url,
            stub_url,
            name="gateway",
            cpus=server_cpu,
            secret=secret,
            wrapper=[
                PYTHON,
                str(Path(__file__).resolve().parent / "profiled.py"),
                *(["--profile"] if args.profile else []),
                str(meter),
            ],
            FLOWS_DIR=flows,
        )
        indexer = search_indexer(single.pid)
        pair_a_url, pair_a = services.gateway(
            redis_url,
            stub_url,
            name="gateway-a",
            cpus=server_cpu,
            secret=secret,
            SOCKETIO_REDIS="on",
            FLOWS_DIR=flows,
        )
        pair_b_url, pair_b = services.gateway(
            redis_url,
            stub_url,
            name="gateway-b",
            cpus=server_cpu,
            secret=secret,
            SOCKETIO_REDIS="on",
            FLOWS_DIR=flows,
        )

        # Every gateway's search indexer (a process of its own) started, and done starting
        # (imports, first rebuild), before anything is measured: the echo's baseline too.
        for gateway in (single, pair_a, pair_b):
            started = search_indexer(gateway.pid)
            if started:
                idle_cpu(started, quiet=1.0)
        results: dict[str, dict[str, Any]] = {}
        with timed("measuring"):
            run = run_generators(
                echo_load,
                [(echo_url, args.pairs, args.messages, args.warmup, {"echo server": echo.pid})],
                gen_cpu,
            )
            out = run.results[0]
            lat = Latencies.from_dict(out["echo"])
            results["echo"] = {
                "lat": lat,
                "rate": lat.rate(),
                "gen": out["cpu"]["generator"],
                "cpu_ms": out["cpu_seconds"] * 1000 / max(len(lat.values), 1),
            }
            print(
                f"   echo     {lat.rate():.0f} msg/s, round trip {lat.text()}; "
                f"CPU {shares_text(out['cpu'])}",
                flush=True,
            )
            for name, c_url, a_url, pids in (
                (
                    "gateway",
                    single_url,
                    single_url,
                    {
                        "gateway": single.pid,
                        **({"search indexer": indexer} if indexer else {}),
                        "redis": redis.pid,
                    },
                ),
                (
                    "pair",
                    pair_a_url,
                    pair_b_url,
                    {"gateway-a": pair_a.pid, "gateway-b": pair_b.pid, "redis": redis.pid},
                ),
            ):
                tokens = asyncio.run(make_agents(redis_url, secret, f"bench{name}", args.pairs))
                indexer_cpu0 = cpu_seconds(indexer) if indexer else 0.0
                run = run_generators(
                    relay_load,
                    [
                        (
                            c_url,
                            a_url,
                            tokens,
                            args.pairs,
                            args.messages,
                            args.warmup,
                            name,
                            pids,
                            redis_url,
                            single.pid if name == "gateway" else 0,
                        )
                    ],
                    gen_cpu,
                )
                out = run.results[0]
                to_agent = Latencies.from_dict(out["to_agent"])
                to_customer = Latencies.from_dict(out["to_customer"])
                both = Latencies()
                both.merge(to_agent)
                both.merge(to_customer)
                rate = len(both.values) / both.window
                results[name] = {"lat": both, "rate": rate, "gen": out["cpu"]["generator"]}
                count = max(len(both.values), 1)
                commands = out["redis_commands"]
                print(
                    f"   {name:<8} {rate:.0f} msg/s; customer→agent {to_agent.text()}; "
                    f"agent→customer {to_customer.text()}; CPU {shares_text(out['cpu'])}; "
                    f"{sum(commands.values()) / count:.1f} Redis commands per relayed message",
                    flush=True,
                )
                if name == "gateway":
                    print(f"   gateway RSS after the run {rss_bytes(single.pid) / 2**20:.0f} MB")
                    results[name]["cpu_ms"] = out["cpu_seconds"]["gateway"] * 1000 / count
                    # The indexer works behind the relay (every couple of seconds): its CPU
                    # until it has indexed the window's messages and is idle again.
                    results[name]["indexer_ms"] = (idle_cpu(indexer) - indexer_cpu0) * 1000 / count
                    results[name]["trips"] = meter_trips(meter) / count
                    top = sorted(commands.items(), key=lambda kv: -kv[1])
                    print(
                        "   Redis commands per relayed message: "
                        + ", ".join(f"{c} {n / count:.2f}" for c, n in top),
                        flush=True,
                    )
                    if args.profile:
                        args.profile.mkdir(parents=True, exist_ok=True)
                        kept = args.profile / "gateway.pstats"
                        kept.write_bytes(Path(f"{meter}.pstats").read_bytes())
                        print_profile(kept, count)

    echo_r, gw, pair = results["echo"], results["gateway"], results["pair"]
    figure(
        BENCH,
        "Redis round trips per relayed message",
        f"{gw['trips']:.2f}",
        f"target <= 3: {'met' if gw['trips'] <= 3 else 'MISSED'}",
    )
    figure(
        BENCH,
        "gateway CPU ms per message",
        f"{gw['cpu_ms']:.3f} ms",
        f"echo server {echo_r['cpu_ms']:.3f} ms: " + ratio_text(gw["cpu_ms"], echo_r["cpu_ms"]),
    )
    figure(
        BENCH,
        "search indexer CPU ms per message (its own process, not pinned; until idle)",
        f"{gw['indexer_ms']:.3f} ms",
        f"gateway and indexer together {gw['cpu_ms'] + gw['indexer_ms']:.3f} ms: "
        + ratio_text(gw["cpu_ms"] + gw["indexer_ms"], echo_r["cpu_ms"]),
    )
    figure(
        BENCH,
        "relay throughput per gateway process vs echo",
        f"{gw['rate']:.0f} vs {echo_r['rate']:.0f} msg/s",
        ratio_text(gw["rate"], echo_r["rate"], 0.5, low=False),
    )
    figure(
        BENCH,
        "relay p99 vs echo p99",
        f"{gw['lat'].p99 * 1000:.1f} ms vs {echo_r['lat'].p99 * 1000:.1f} ms",
        ratio_text(gw["lat"].p99, echo_r["lat"].p99, 2.0),
    )
    figure(
        BENCH,
        "relay across two gateways (Redis pub/sub) vs one",
        f"{pair['rate']:.0f} vs {gw['rate']:.0f} msg/s, p99 {pair['lat'].p99 * 1000:.1f} ms",
        ratio_text(pair["rate"], gw["rate"]),
    )
    for name, r in results.items():
        if r["gen"] > 0.85:
            print(
                f"   note: in the {name} run the generator used {r['gen']:.0%} of its core: "
                "it is (close to) the bottleneck there, so that figure is a lower bound"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
