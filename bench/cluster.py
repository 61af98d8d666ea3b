"""bench/cluster.py — `make cluster`'s topology under load, through nginx, and its failovers.

The cluster is frontdesk.cluster's: nginx in front of 3 gateway processes (SOCKETIO_REDIS=on),
Rasa processes on a shared tracker and lock store, a Redis primary and replica with 3
sentinels. Every client connects from one of 64 loopback addresses (127.0.3.N), since nginx
hashes the client address. Printed:

- relayed messages/s (customer <-> agent ping-pong, bench/relay.py's load) and bot turns/s
  (FAQ questions, bench/common.py's widget_turns) with 1, 2 and 3 gateway processes serving
  (the others stopped: nginx passes over them), each process's CPU share over the window, and
  what bounds the figure on this machine;
- Redis round trips per relayed message, all gateways together (bench/profiled.py's meter in
  every gateway, its window opened and closed by the load itself);
- failover: a Redis primary killed (the sentinels promote the replica; when writes are
  acknowledged again), a Rasa killed (when its conversation is answered by the other), and a
  gateway process holding N widget connections killed — the reconnect storm: when all N have
  their session_confirm again from the other processes (goal <= 15 s), and whether any
  conversation changed id (a resumed conversation keeps its id only with its owner's token).

Full mode starts 2 Rasa processes of its own and 5,000 storm connections. `--quick`: tiny
sizes, 300 storm connections; with BENCH_RASA_OURS set, that running Rasa serves the cluster
(it is not killed: the Rasa failover is then left out, and said so).

    .venv/bin/python bench/cluster.py [--quick] [--pairs 30] [--clients 16] [--storm 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import relay
from cluster_load import from_sources, keep_writing, storm
from common import (
    FAQ_QUESTIONS,
    PYTHON,
    Latencies,
    cpu_seconds,
    env_pid,
    env_rasa,
    figure,
    print_header,
    raise_fd_limit,
    run_generators,
    shares_text,
    timed,
    turns_result,
    widget_turns,
)

from frontdesk.cluster import Cluster, NginxLimits

BENCH = "cluster"
SOURCES = [f"127.0.3.{i}" for i in range(1, 65)]
STORM_GOAL = 15.0


def nginx_workers(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Meters:
    """bench/profiled.py in every gateway: relay_load signals this process (its profile_pid)
    at the start and end of its window, and this process passes the signal on to each
    gateway serving; their Redis round trips are summed."""

    def __init__(self, directory: Path, profile: bool = False) -> None:
        self.directory = directory
        self.profile = profile  # each gateway also writes a cProfile of the window
        self.directory.mkdir(parents=True, exist_ok=True)
        self.pids: dict[int, int] = {}  # port -> pid of the gateways serving now

    def command(self) -> list[str]:
        """The gateways' command prefix: profiled.py with a meter file per port."""
        profiled = Path(__file__).resolve().parent / "profiled.py"
        flag = "--profile " if self.profile else ""
        script = f'exec "$0" "{profiled}" {flag}"{self.directory}/gateway-$PORT" "$@"'
        return ["/bin/sh", "-c", script, PYTHON]

    def install(self) -> None:
        def forward(signum: int, frame: FrameType | None) -> None:
            if signum == signal.SIGUSR1:
                for path in self.directory.glob("*.json"):
                    path.unlink()
            for pid in self.pids.values():
                os.kill(pid, signum)

        signal.signal(signal.SIGUSR1, forward)
        signal.signal(signal.SIGUSR2, forward)

    def trips(self) -> int:
        total = 0
        for port in self.pids:
            path = self.directory / f"gateway-{port}.json"
            deadline = time.monotonic() + 30
            while not path.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            total += int(json.loads(path.read_text())["redis_round_trips"])
        return total


def bound_text(shares: dict[str, float], cores: int) -> str:
    """What bounds a figure: the cores all busy, or one process at a whole core."""
    total = sum(shares.values())
    top, share = max(shares.items(), key=lambda kv: kv[1])
    if total >= 0.85 * cores:
        return (
            f"bounded by the {cores} cores: the processes together used {total:.2f} of "
            f"{cores} (the busiest, {top}, {share:.0%} of one); another gateway process "
            "only shares the same cores"
        )
    if share >= 0.85:
        return f"bounded by {top} at {share:.0%} of one core (one process is one core at most)"
    return (
        f"no core saturated by these processes ({total:.2f} of {cores}; other work on the "
        "machine is not counted): bounded by round-trip latency or by that other work"
    )


def serve(cluster: Cluster, meters: Meters, count: int) -> None:
    """Exactly the first `count` gateway processes serving."""
    for index, name in enumerate(cluster.gateway_names):
        running = cluster.pids().get(name) is not None
        if index < count and not running:
            cluster.start_part(name)
        elif index >= count and running:
            cluster.stop_part(name)
    pids = cluster.pids()
    meters.pids = {
        cluster.port_of(name): pid
        for name in cluster.gateway_names[:count]
        if (pid := pids[name]) is not None
    }


def process_pids(cluster: Cluster, rasa_pid: int) -> dict[str, int]:
    """The processes whose CPU is printed: gateways serving, nginx's worker, Redis, Rasa."""
    pids = {n: p for n, p in cluster.pids().items() if p and n.startswith("gateway")}
    nginx = cluster.pids().get("nginx")
    for index, worker in enumerate(nginx_workers(nginx) if nginx else []):
        pids[f"nginx-{index + 1}"] = worker
    primary = cluster.pids().get(cluster.primary())
    if primary:
        pids["redis"] = primary
    rasa = [(n, p) for n, p in cluster.pids().items() if p and n.startswith("rasa")]
    pids.update(rasa or ([("rasa", rasa_pid)] if rasa_pid else []))
    return pids


def measure(
    cluster: Cluster, meters: Meters, args: argparse.Namespace, rasa_pid: int
) -> tuple[dict[int, float], dict[int, float], float]:
    redis_url = f"redis://127.0.0.1:{cluster.port_of(cluster.primary())}/0"
    relayed: dict[int, float] = {}
    turns: dict[int, float] = {}
    trips = 0.0
    cores = os.cpu_count() or 1
    for count in (1, 2, 3):
        serve(cluster, meters, count)
        pids = process_pids(cluster, rasa_pid)
        tokens = asyncio.run(
            relay.make_agents(redis_url, cluster.secret_key, f"c{count}-", args.pairs)
        )
        load = (
            cluster.url,
            cluster.url,
            tokens,
            args.pairs,
            args.messages,
            args.warmup,
            f"g{count}",
            pids,
            redis_url,
            os.getpid(),  # the window's signals, passed on to every gateway (Meters)
        )
        out = run_generators(from_sources, [(SOURCES, relay.relay_load, *load)]).results[0]
        both = Latencies.from_dict(out["to_agent"])
        both.merge(Latencies.from_dict(out["to_customer"]))
        relayed[count] = len(both.values) / both.window
        trips = meters.trips() / max(len(both.values), 1)
        print(
            f"   {count} gateway(s): relayed {relayed[count]:.0f} msg/s, {both.text()}; "
            f"{trips:.2f} Redis round trips per message\n     CPU {shares_text(out['cpu'])}\n"
            f"     {bound_text(out['cpu'], cores)}",
            flush=True,
        )
        bot = (cluster.url, "frontdesk", args.clients, args.turns, 1)
        run = run_generators(
            from_sources,
            [(SOURCES, widget_turns, *bot, None, FAQ_QUESTIONS, f"t{count}", pids)],
        )
        _, whole, _, _ = turns_result(run)
        turns[count] = len(whole.values) / whole.window
        shares = run.results[0]["cpu"]
        print(
            f"   {count} gateway(s): {turns[count]:.1f} bot turns/s, {whole.text()}"
            f"{f', {whole.errors} errors' if whole.errors else ''}\n"
            f"     CPU {shares_text(shares)}\n     {bound_text(shares, cores)}",
            flush=True,
        )
    return relayed, turns, trips


def redis_failover(cluster: Cluster, tmp: Path) -> tuple[float, float, float]:
    """Kill -9 the primary while a customer writes: (promoted after, writes acknowledged again
    after, old primary back as a replica after), seconds."""
    stop_file = tmp / "stop-writing"
    result: dict[str, Any] = {}

    def write() -> None:
        run = run_generators(keep_writing, [(cluster.url, SOURCES[0], str(stop_file))])
        result.update(run.results[0])

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(3)  # the customer is writing (pacing, not synchronisation)
    old = cluster.primary()
    killed = time.monotonic()
    cluster.kill(old)
    promoted = cluster.wait_failover(old)
    time.sleep(3)
    stop_file.write_text("stop")
    writer.join()
    back = cluster.start_part(old)
    after = [t - killed for t in result["acked"] if t > killed]
    return promoted, min(after, default=float("nan")), back


async def rasa_failover(cluster: Cluster) -> float:
    """Kill -9 the Rasa a conversation is routed to; seconds until its next question is
    answered (by the other)."""
    import socketio

    sio = socketio.AsyncClient(reconnection=False)
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    sio.on("session_confirm", lambda d: events.put_nowait(("confirm", d)))
    sio.on("bot_uttered", lambda d: events.put_nowait(("bot", d)))
    await sio.connect(cluster.url, transports=["websocket"])
    try:
        await sio.emit("session_request", {"session_id": "x", "frontdesk": 1})
        kind, session_id = await asyncio.wait_for(events.get(), 30)
        urls = cluster.rasa_urls
        sticky = urls[zlib.crc32(session_id.encode()) % len(urls)]  # frontdesk.botclient's
        killed = time.monotonic()
        cluster.kill(cluster.rasa_names[urls.index(sticky)])
        await sio.emit("user_uttered", {"message": FAQ_QUESTIONS[0], "session_id": session_id})
        while True:
            kind, data = await asyncio.wait_for(events.get(), 120)
            if kind == "bot" and data["sender"]["kind"] == "bot":
                return time.monotonic() - killed
    finally:
        await sio.disconnect()


def print_profile(meters: Meters, port: int, limit: int = 25) -> None:
    """The busiest functions of one gateway over the window (its own time, then inclusive)."""
    import pstats

    path = meters.directory / f"gateway-{port}.pstats"
    deadline = time.monotonic() + 30
    while True:
        try:
            stats = pstats.Stats(str(path))
            break
        except (OSError, EOFError):  # not written yet, or being written
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    stats.sort_stats("tottime").print_stats(limit)
    stats.sort_stats("cumulative").print_stats(limit)


def reconnect_storm(
    cluster: Cluster, tmp: Path, count: int, meters: Meters | None = None
) -> dict[str, Any]:
    """`count` connections on gateway-1, which is killed; they come back through nginx. With
    `meters` profiling, the survivors' profiles of the storm are printed."""
    generators = max(1, min(4, count // 1000))
    victim = cluster.gateway_urls[0]
    files = [tmp / f"storm-ready-{i}" for i in range(generators)]
    share = [count // generators + (i < count % generators) for i in range(generators)]
    out: dict[str, Any] = {}

    def run() -> None:
        args = [
            (cluster.url, victim, SOURCES[i::generators], share[i], str(files[i]))
            for i in range(generators)
        ]
        out["run"] = run_generators(storm, args)

    thread = threading.Thread(target=run)
    thread.start()
    while not all(f.exists() for f in files):  # every connection has its conversation
        if not thread.is_alive():
            raise RuntimeError("the storm's generators ended before connecting")
        time.sleep(0.2)
    opened = sum(int(f.read_text()) for f in files)
    pids = process_pids(cluster, 0)
    pids.pop(cluster.gateway_names[0], None)
    survivors = {n: p for n, p in pids.items() if n.startswith("gateway")}
    profiling = meters is not None and meters.profile
    if profiling:
        for pid in survivors.values():
            os.kill(pid, signal.SIGUSR1)
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    killed = time.monotonic()
    cluster.kill(cluster.gateway_names[0])
    thread.join()
    if meters is not None and profiling:
        for pid in survivors.values():
            os.kill(pid, signal.SIGUSR2)
        print_profile(meters, cluster.port_of(next(iter(survivors))))
    results = out["run"].results
    confirmed = sorted(t - killed for r in results for t in r["confirmed"])
    noticed = sorted(t - killed for r in results for t in r["noticed"])
    connected = sorted(t - killed for r in results for t in r["connected"])
    window = (confirmed[-1] if confirmed else time.monotonic() - killed) or 1.0
    shares = {name: (cpu_seconds(pid) - cpu0[name]) / window for name, pid in pids.items()}
    attempts: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    refusals: Counter[str] = Counter()
    for r in results:
        attempts.update({int(k): v for k, v in r["attempts"].items()})
        errors.update(r["errors"])
        refusals.update(r["refusals"])
    restarted = cluster.start_part(cluster.gateway_names[0])

    def at(q: float, times: list[float] = confirmed) -> float:
        return times[min(len(times) - 1, int(q * len(times)))] if times else 0.0

    quantiles = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)

    return {
        "opened": opened,
        "back": len(confirmed),
        "all": confirmed[-1] if confirmed else float("nan"),
        "p50": at(0.5),
        "quantiles": " ".join(f"{q:.0%} {at(q):.1f} s" for q in quantiles),
        "connected": " ".join(f"{q:.0%} {at(q, connected):.1f} s" for q in quantiles),
        "noticed": noticed[-1] if noticed else float("nan"),
        "attempts": dict(sorted(attempts.items())),
        "errors": errors.most_common(6),
        "refusals": dict(refusals),
        "cpu": shares,
        "generators_cpu": sum(r["cpu"] for r in results) / window,
        "changed": sum(r["changed"] for r in results),
        "failed": sum(r["failed"] for r in results),
        "restarted": restarted,
    }


def storm_lines(stormed: dict[str, Any]) -> str:
    """What the storm's figure is made of: when the clients noticed, how many attempts they
    needed and why attempts failed, and who was busy."""
    errors = "; ".join(f"{n}x {text}" for text, n in stormed["errors"]) or "none"
    return (
        f"     connected again: {stormed['connected']}\n"
        f"     confirmed: {stormed['quantiles']}; the last noticed its process gone "
        f"{stormed['noticed']:.1f} s after the kill\n"
        f"     attempts needed (attempts: connections): {stormed['attempts']}; failed attempts: "
        f"{errors}; frontdesk_error codes: {stormed['refusals'] or 'none'}\n"
        f"     CPU over the storm {shares_text(stormed['cpu'])}, the clients "
        f"{stormed['generators_cpu']:.0%}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=30, help="customer/agent conversations")
    parser.add_argument("--messages", type=int, default=20, help="ping-pongs per pair")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16, help="customers asking the bot")
    parser.add_argument("--turns", type=int, default=8, help="questions per customer")
    parser.add_argument("--storm", type=int, default=5000, help="connections on the killed one")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that it runs")
    parser.add_argument(
        "--only",
        choices=("storm", "redis"),
        help="only the reconnect storm, or only the Redis failover (with --rasa: no Rasa started)",
    )
    parser.add_argument(
        "--rasa", metavar="URL", help="a running Rasa serves the cluster (no Rasa failover)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="print a gateway's cProfile of the storm"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.messages, args.warmup = 5, 3, 1
        args.clients, args.turns, args.storm = 3, 2, 300
    parts = {args.only} if args.only else {"load", "redis", "rasa", "storm"}
    raise_fd_limit()
    print_header("bench/cluster.py — nginx, 3 gateways, Rasa, Redis with Sentinel")
    shared_rasa = args.rasa or (env_rasa("BENCH_RASA_OURS") if args.quick else None)
    if shared_rasa:
        parts.discard("rasa")
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    meters = Meters(tmp / "meters", profile=args.profile)
    gateway_env = {
        "FLOWS_DIR": str(relay.always_open_flows(tmp)),
        "LOG_LEVEL": "WARNING",
        "RASA_TIMEOUT": "60",
        # Many clients from a few addresses, far faster than people: no abuse limits (the
        # bench measures throughput and recovery; bench/abuse.py measures the limits).
        "RATE_LIMIT_PER_SECOND": "0",
        "MAX_PENDING_TURNS": "0",
    }
    cluster = Cluster(
        tmp / "cluster",
        rasa_urls=[shared_rasa] if shared_rasa else (),
        gateway_env=gateway_env,
        nginx_limits=NginxLimits.relaxed(),
        gateway_command=meters.command(),
    )
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    relayed: dict[int, float] = {}
    turns: dict[int, float] = {}
    trips = 0.0
    redis: tuple[float, float, float] | None = None
    rasa: tuple[float, float] | None = None
    stormed: dict[str, Any] | None = None
    try:
        with timed("starting the cluster"):
            cluster.start()
        if shared_rasa:
            print(f"   the running Rasa at {shared_rasa} serves the cluster (not killed)")
        meters.install()
        if "load" in parts:
            with timed("measuring 1, 2 and 3 gateways"):
                relayed, turns, trips = measure(
                    cluster, meters, args, env_pid("BENCH_RASA_OURS") if shared_rasa else 0
                )
        if "redis" in parts:
            with timed("Redis failover"):
                redis = redis_failover(cluster, tmp)
            print(
                f"   Redis primary killed: promoted in {redis[0]:.1f} s, writes acknowledged "
                f"again {redis[1]:.1f} s after the kill, old primary back as a replica in "
                f"{redis[2]:.1f} s",
                flush=True,
            )
        if "rasa" in parts:
            with timed("Rasa failover"):
                answered = asyncio.run(rasa_failover(cluster))
                name = next(n for n, p in cluster.pids().items() if p is None)
                rasa = answered, cluster.start_part(name)
            print(
                f"   Rasa killed: answered by the other in {rasa[0]:.1f} s; {name} "
                f"restarted (model loaded) in {rasa[1]:.1f} s",
                flush=True,
            )
        if "storm" in parts:
            with timed(f"reconnect storm ({args.storm} connections)"):
                stormed = reconnect_storm(cluster, tmp, args.storm, meters)
            print(
                f"   storm: {stormed['opened']} connections on gateway-1, killed: "
                f"{stormed['back']} had their session_confirm again, all in "
                f"{stormed['all']:.1f} s (half in {stormed['p50']:.1f} s); ids changed "
                f"{stormed['changed']}, failed {stormed['failed']}; gateway-1 restarted in "
                f"{stormed['restarted']:.1f} s\n{storm_lines(stormed)}",
                flush=True,
            )
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def trio(values: dict[int, float], unit: str) -> str:
        return " / ".join(f"{values[n]:.1f}" for n in (1, 2, 3)) + f" {unit}"

    if relayed:
        figure(
            BENCH,
            "relayed msg/s through nginx, 1/2/3 gateways",
            trio(relayed, "msg/s"),
            f"3 vs 1: {relayed[3] / relayed[1]:.2f}x (2 cores shared by all)",
        )
        figure(
            BENCH,
            "bot turns/s through nginx, 1/2/3 gateways",
            trio(turns, "turns/s"),
            f"3 vs 1: {turns[3] / turns[1]:.2f}x",
        )
        figure(
            BENCH,
            "Redis round trips per relayed message (3 gateways)",
            f"{trips:.2f}",
            "relay.py's one gateway: target <= 3; here emits also cross processes (PUBLISH)",
        )
    if redis is not None:
        figure(
            BENCH,
            "Redis primary killed: promoted / writes back",
            f"{redis[0]:.1f} s / {redis[1]:.1f} s",
            "sentinel down-after 2 s",
        )
    if rasa is not None:
        figure(
            BENCH,
            "Rasa killed: its conversation answered by the other",
            f"{rasa[0]:.1f} s",
            f"restart (model load) {rasa[1]:.0f} s",
        )
    if stormed is not None:
        met = stormed["all"] <= STORM_GOAL and stormed["back"] == stormed["opened"]
        figure(
            BENCH,
            f"gateway killed under {stormed['opened']} connections: all session_confirm again",
            f"{stormed['all']:.1f} s",
            f"goal <= {STORM_GOAL:.0f} s: {'met' if met else 'MISSED'}; ids changed "
            f"{stormed['changed']}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
