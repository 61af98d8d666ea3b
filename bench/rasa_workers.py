"""Item 2 — Rasa workers: one gateway in front of 1 and of 2 Rasa processes, same run.

Both Rasa processes serve our model with bot/endpoints.redis.yml (Redis tracker store and lock
store, on the same redis-server as the gateway, other databases). Two gateways run side by
side: one with RASA_URL=a, one with RASA_URL=a,b (conversations spread sticky by crc32).
N widget clients ask FAQ questions through each, in alternating rounds; the figure is
throughput (turns/s) with 2 workers against 1. Also checks that a conversation served by
worker a is visible to worker b (the shared tracker store).

    .venv/bin/python bench/rasa_workers.py [--clients 16] [--turns 15] [--rounds 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BOT_DIR,
    FAQ_QUESTIONS,
    Latencies,
    Services,
    env_pid,
    env_rasa,
    figure,
    print_header,
    ratio_text,
    run_generators,
    shares_text,
    timed,
    turns_result,
    widget_turns,
)

BENCH = "rasa_workers"


def _post(url: str, body: dict[str, object]) -> object:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.load(resp)


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=60) as resp:
        result: dict[str, object] = json.load(resp)
        return result


def shared_tracker(a: str, b: str) -> str:
    """Talk to worker a, read the conversation from worker b."""
    sender = f"shared-check-{time.time_ns()}"
    _post(f"{a}/webhooks/rest/webhook", {"sender": sender, "message": "where is my order?"})
    tracker = _get(f"{b}/conversations/{sender}/tracker")
    latest = tracker.get("latest_message") or {}
    text = latest.get("text") if isinstance(latest, dict) else None
    events = tracker.get("events") or []
    ok = text == "where is my order?" and isinstance(events, list) and len(events) > 2
    return f"{'yes' if ok else 'NO'} ({len(events) if isinstance(events, list) else 0} events)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--turns", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 clients x 3 questions, 1 round; with BENCH_RASA_OURS set, that one Rasa plays "
        "both workers (no Rasa is started): checks that it runs",
    )
    args = parser.parse_args(argv)
    shared = env_rasa("BENCH_RASA_OURS") if args.quick else None
    if args.quick:
        args.clients, args.turns, args.warmup, args.rounds = 2, 3, 1, 1
    print_header("bench/rasa_workers.py — 1 vs 2 Rasa workers behind one gateway")
    print(
        f"   {args.clients} clients x {args.turns} questions x {args.rounds} rounds per setup; "
        "Rasa with bot/endpoints.redis.yml (Redis tracker + lock store)"
    )

    with Services(BENCH) as services:
        redis_url, redis = services.redis()
        parsed = urlparse(redis_url)
        env = {"REDIS_HOST": str(parsed.hostname), "REDIS_PORT": str(parsed.port)}
        endpoints = BOT_DIR / "endpoints.redis.yml"
        if shared:
            print(
                "   quick mode: the running Rasa (BENCH_RASA_OURS) plays both workers; no "
                "second Rasa is started, so the figures say nothing about two workers",
                flush=True,
            )
            a_url = b_url = shared
            a_pid = b_pid = env_pid("BENCH_RASA_OURS")
        else:
            with timed("Rasa start (2 workers)"):
                a_url, a = services.rasa("config.yml", name="rasa-a", endpoints=endpoints, env=env)
                b_url, b = services.rasa("config.yml", name="rasa-b", endpoints=endpoints, env=env)
                services.wait_rasa(a_url, a, "rasa-a")
                services.wait_rasa(b_url, b, "rasa-b")
            a_pid, b_pid = a.pid, b.pid
        one_url, one = services.gateway(redis_url, a_url, name="gateway-1")
        two_url, two = services.gateway(redis_url, f"{a_url},{b_url}", name="gateway-2")
        check = shared_tracker(a_url, b_url) + (" (one Rasa: not a check)" if shared else "")
        print(f"   tracker shared between workers: {check}", flush=True)

        setups = {
            "1 worker": (one_url, {"gateway": one.pid, "rasa-a": a_pid, "redis": redis.pid}),
            "2 workers": (
                two_url,
                {"gateway": two.pid, "rasa-a": a_pid, "rasa-b": b_pid, "redis": redis.pid},
            ),
        }
        results: dict[str, tuple[Latencies, list[float], list[int]]] = {
            name: (Latencies(), [], []) for name in setups
        }
        with timed("measuring"):
            for round_no in range(args.rounds):
                for name, (url, pids) in setups.items():
                    run = run_generators(
                        widget_turns,
                        [
                            (
                                url,
                                "frontdesk",
                                args.clients,
                                args.turns,
                                args.warmup,
                                None,
                                FAQ_QUESTIONS,
                                f"w{round_no}{name[0]}",
                                pids,
                            )
                        ],
                    )
                    first, whole, _, _share = turns_result(run)
                    pooled, windows, counts = results[name]
                    pooled.merge(first)
                    windows.append(whole.window)
                    counts.append(len(whole.values))
                    print(
                        f"   round {round_no + 1} {name:<9} {whole.rate():.1f} turns/s, "
                        f"answer {first.text()}; CPU {shares_text(run.results[0]['cpu'])}",
                        flush=True,
                    )

    def rate(name: str) -> float:
        _, windows, counts = results[name]
        return sum(counts) / max(sum(windows), 1e-9)

    one_rate, two_rate = rate("1 worker"), rate("2 workers")
    figure(
        BENCH,
        "throughput 2 Rasa workers vs 1",
        f"{two_rate:.1f} vs {one_rate:.1f} turns/s",
        ratio_text(two_rate, one_rate),
    )
    one_first, two_first = results["1 worker"][0], results["2 workers"][0]
    figure(
        BENCH,
        "answer p50 2 workers vs 1",
        f"{two_first.p50 * 1000:.1f} ms vs {one_first.p50 * 1000:.1f} ms",
        ratio_text(two_first.p50, one_first.p50),
    )
    cores = os.cpu_count() or 1
    if cores <= 2:
        print(
            f"   note: {cores} cores carry both Rasa workers, the gateway, Redis and the "
            "generator; a second worker can only help as far as one Rasa leaves a core idle"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
