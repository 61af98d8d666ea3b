"""Item 1 — the bot turn: frontdesk → Rasa against Rasa's own socketio channel, same model.

N concurrent Socket.IO clients ask mixed FAQ questions (each client one conversation, one
question after the other), in the same run, against:

  rasa-socketio      `rasa run` (our config.yml model) on its own socketio channel — the
                     baseline (session persistence off: see common.Services.credentials);
  frontdesk          the gateway (widget channel) in front of that same Rasa process (REST);
  rasa-default       Rasa's default configuration (bot/config.default.yml, same data) on its
                     own socketio channel — what a Rasa user has today;
  rasa-rest          Rasa's REST channel of our Rasa process, called straight from the
                     generator: frontdesk against it is the gateway's own overhead.

Rounds alternate the targets so that drift on a shared machine hits all of them alike. Two load
levels by default: 1 client (no queueing in Rasa: latency shows the path's overhead) and 8
(Rasa saturated on 2 cores: latency is mostly queueing, throughput is the figure). A frontdesk
client waits for the end of the turn (`bot_typing false`) before its next question, a Rasa
client for the messages seen in a calibration pass.
Latency is question sent → first bot_uttered (the answer the customer reads); "turn" is until
the end of the turn. Throughput is measured turns per second. The gateway runs under
bench/profiled.py's meter: the Redis round trips it makes per bot turn are counted over the
frontdesk windows (each client's session start and warm-up questions included), and "gateway
ms added" is frontdesk's answer p50 minus Rasa's REST channel called straight.

    .venv/bin/python bench/bot_turn.py [--clients 8] [--turns 20] [--rounds 2] [--quick]

Set BENCH_RASA_OURS / BENCH_RASA_DEFAULT to reuse running Rasa servers (run_all.py does) —
they must have the socketio channel on (bot/credentials.yml).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    FAQ_QUESTIONS,
    PYTHON,
    Latencies,
    Services,
    env_pid,
    env_rasa,
    figure,
    print_header,
    rasa_expected,
    ratio_text,
    run_generators,
    shares_text,
    timed,
    turns_result,
    wait_until,
    widget_turns,
)

BENCH = "bot_turn"


@dataclass
class Target:
    name: str
    url: str
    mode: str
    pids: dict[str, int]
    expected: dict[str, list[str]] | None = None
    first: Latencies = field(default_factory=Latencies)
    whole: Latencies = field(default_factory=Latencies)
    windows: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    mismatches: int = 0
    gen_share: float = 0.0
    cpu: list[str] = field(default_factory=list)
    trips: int = 0  # Redis round trips of the gateway (frontdesk only), and the turns they served
    metered_turns: int = 0

    @property
    def throughput(self) -> float:
        return sum(self.counts) / max(sum(self.windows), 1e-9)


def measure(
    target: Target,
    clients: int,
    turns: int,
    warmup: int,
    round_no: int,
    questions: tuple[str, ...] = FAQ_QUESTIONS,
) -> None:
    run = run_generators(
        widget_turns,
        [
            (
                target.url,
                target.mode,
                clients,
                turns,
                warmup,
                target.expected,
                questions,
                f"{target.mode}{round_no}",
                target.pids,
            )
        ],
    )
    first, whole, mismatches, share = turns_result(run)
    target.cpu.append(shares_text(run.results[0]["cpu"]))
    target.first.merge(first)
    target.whole.merge(whole)
    target.windows.append(whole.window)
    target.counts.append(len(whole.values))
    target.mismatches += mismatches
    target.gen_share = max(target.gen_share, share)
    print(
        f"   round {round_no + 1} {target.name:<14} first answer {first.text()}  "
        f"turns/s {whole.rate():.1f}  CPU {target.cpu[-1]}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--clients",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[1, 8],
        help="concurrent conversations, one run per level "
        "(default 1,8: no queueing in Rasa, and Rasa saturated)",
    )
    parser.add_argument("--turns", type=int, default=20, help="measured questions per client")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured questions per client")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per target")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 client, 3 questions, 1 round, 4 distinct questions; Rasa's default config only "
        "if BENCH_RASA_DEFAULT gives one (no second model is started): checks that it runs",
    )
    parser.add_argument(
        "--no-default",
        action="store_true",
        help="leave Rasa's default configuration out unless BENCH_RASA_DEFAULT gives one "
        "(no second model is started: on a shared machine, with BENCH_RASA_OURS)",
    )
    args = parser.parse_args(argv)
    questions = FAQ_QUESTIONS
    if args.quick:
        args.clients, args.turns, args.warmup, args.rounds = [1], 3, 1, 1
        questions = FAQ_QUESTIONS[:4]
    print_header("bench/bot_turn.py — frontdesk → Rasa vs Rasa's own socketio channel")
    print(
        f"   {'/'.join(map(str, args.clients))} clients x {args.turns} questions x "
        f"{args.rounds} rounds per target "
        f"(+{args.warmup} warm-up questions per client); loopback; websocket transport"
    )

    with Services(BENCH) as services:
        redis_url, redis = services.redis()
        ours_url, default_url = env_rasa("BENCH_RASA_OURS"), env_rasa("BENCH_RASA_DEFAULT")
        ours_pid, default_pid = env_pid("BENCH_RASA_OURS"), env_pid("BENCH_RASA_DEFAULT")
        with timed("Rasa start"):
            started = []
            if ours_url is None:
                ours_url, proc = services.rasa("config.yml", name="rasa-ours")
                started.append((ours_url, proc, "rasa-ours"))
                ours_pid = proc.pid
            if default_url is None and (args.quick or args.no_default):
                print(
                    "   Rasa's default configuration is not started (it needs a "
                    "second trained model); its figures are left out",
                    flush=True,
                )
            elif default_url is None:
                default_url, proc = services.rasa("config.default.yml", name="rasa-default")
                started.append((default_url, proc, "rasa-default"))
                default_pid = proc.pid
            for url, proc, name in started:
                services.wait_rasa(url, proc, name)
        meter = services.tmp / "gateway-meter"
        profiled = str(Path(__file__).resolve().parent / "profiled.py")
        gateway_url, gateway = services.gateway(
            redis_url, ours_url, wrapper=[PYTHON, profiled, str(meter)]
        )
        expected_ours = asyncio.run(rasa_expected(ours_url, questions))
        expected_default = (
            asyncio.run(rasa_expected(default_url, questions)) if default_url else None
        )
        rasa_pids = {"rasa": ours_pid} if ours_pid else {}
        levels: dict[int, list[Target]] = {}
        for clients in args.clients:
            levels[clients] = [
                Target("rasa-socketio", ours_url, "rasa", rasa_pids, expected_ours),
                Target(
                    "frontdesk",
                    gateway_url,
                    "frontdesk",
                    {"gateway": gateway.pid, "redis": redis.pid, **rasa_pids},
                ),
                Target("rasa-rest", ours_url, "rest", rasa_pids),
            ]
            if default_url:
                levels[clients].insert(
                    2,
                    Target(
                        "rasa-default",
                        default_url,
                        "rasa",
                        {"rasa": default_pid} if default_pid else {},
                        expected_default,
                    ),
                )
        with timed("measuring"):
            for round_no in range(args.rounds):
                for clients, targets in levels.items():
                    for target in targets:
                        metered = target.name == "frontdesk"
                        if metered:
                            os.kill(gateway.pid, signal.SIGUSR1)  # the meter's window starts
                        measure(target, clients, args.turns, args.warmup, round_no, questions)
                        if metered:
                            target.trips += meter_trips(meter, gateway.pid)
                            target.metered_turns += clients * (args.turns + args.warmup)

    for clients, targets in levels.items():
        report(clients, targets)
    if max(t.gen_share for ts in levels.values() for t in ts) > 0.8:
        print("   note: a generator used >80% of a core: it may be limiting the figures")
    return 0


def meter_trips(meter: Path, pid: int) -> int:
    """End the meter's window (bench/profiled.py) and read the round trips it counted."""
    done = Path(f"{meter}.json")
    done.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    wait_until(done.exists, 30, "the gateway's meter")
    return int(json.loads(done.read_text())["redis_round_trips"])


def report(clients: int, targets: list[Target]) -> None:
    by_name = {t.name: t for t in targets}
    base, ours, rest = by_name["rasa-socketio"], by_name["frontdesk"], by_name["rasa-rest"]
    default = by_name.get("rasa-default")
    print(f"   results with {clients} concurrent clients (all rounds pooled):")
    for t in targets:
        note = f" answer mismatches {t.mismatches}" if t.mismatches else ""
        print(
            f"   {t.name:<14} first answer {t.first.text()} | whole turn {t.whole.text()} | "
            f"{t.throughput:.1f} turns/s | CPU {'; '.join(t.cpu)} | "
            f"generator ≤{t.gen_share:.0%}{note}"
        )
    at = f"{clients} client{'s' if clients > 1 else ''}"
    figure(
        BENCH,
        f"{at}: frontdesk answer p50 vs Rasa socketio (same model)",
        f"{ours.first.p50 * 1000:.1f} ms vs {base.first.p50 * 1000:.1f} ms",
        ratio_text(ours.first.p50, base.first.p50, 1.03),
    )
    figure(
        BENCH,
        f"{at}: frontdesk answer p99 vs Rasa socketio (same model)",
        f"{ours.first.p99 * 1000:.1f} ms vs {base.first.p99 * 1000:.1f} ms",
        ratio_text(ours.first.p99, base.first.p99, 1.03),
    )
    figure(
        BENCH,
        f"{at}: frontdesk throughput vs Rasa socketio",
        f"{ours.throughput:.1f} vs {base.throughput:.1f} turns/s",
        ratio_text(ours.throughput, base.throughput),
    )
    figure(
        BENCH,
        f"{at}: frontdesk answer p50 vs Rasa REST straight (gateway's overhead)",
        f"{ours.first.p50 * 1000:.1f} ms vs {rest.first.p50 * 1000:.1f} ms",
        ratio_text(ours.first.p50, rest.first.p50),
    )
    added = (ours.first.p50 - rest.first.p50) * 1000
    figure(
        BENCH,
        f"{at}: gateway ms added p50 (frontdesk minus Rasa REST straight)",
        f"{added:.1f} ms",
        f"target <= 1 ms: {'met' if added <= 1 else 'MISSED'}",
    )
    figure(
        BENCH,
        f"{at}: Redis round trips per bot turn (gateway, session start included)",
        f"{ours.trips / max(ours.metered_turns, 1):.2f}",
        f"{ours.trips} over {ours.metered_turns} turns",
    )
    if default is None:
        return
    figure(
        BENCH,
        f"{at}: frontdesk answer p50 vs Rasa default config (socketio)",
        f"{ours.first.p50 * 1000:.1f} ms vs {default.first.p50 * 1000:.1f} ms",
        ratio_text(ours.first.p50, default.first.p50, 0.8),
    )
    figure(
        BENCH,
        f"{at}: frontdesk answer p99 vs Rasa default config (socketio)",
        f"{ours.first.p99 * 1000:.1f} ms vs {default.first.p99 * 1000:.1f} ms",
        ratio_text(ours.first.p99, default.first.p99),
    )


if __name__ == "__main__":
    sys.exit(main())
