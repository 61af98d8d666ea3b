"""Item 6 — pipeline: Rasa's default configuration against ours (bot/config.yml).

1. Bot turn on Rasa's REST channel (what the gateway calls), one request at a time, same FAQ
   questions, requests to the two Rasa servers interleaved so drift hits both alike;
   conversations of 5 turns. Prints p50/p99 per config and their ratio.
2. Held-out NLU accuracy of both configs, by bench/nlu_accuracy.py (80/20 split, seed 42;
   trains an NLU-only model per config, a few minutes on 2 cores). --skip-nlu leaves it out.

    .venv/bin/python bench/pipeline.py [--passes 3] [--skip-nlu]

Set BENCH_RASA_OURS / BENCH_RASA_DEFAULT to reuse running Rasa servers (run_all.py does).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    FAQ_QUESTIONS,
    PYTHON,
    ROOT,
    Latencies,
    Services,
    env_rasa,
    figure,
    print_header,
    ratio_text,
    run_generators,
    timed,
)

BENCH = "pipeline"
TURNS_PER_CONVERSATION = 5


async def rest_turns(urls: dict[str, str], passes: int, warmup: int) -> dict[str, Any]:
    """Sequential REST turns, alternating between the Rasa servers."""
    import aiohttp

    out = {name: Latencies() for name in urls}
    questions = list(FAQ_QUESTIONS)
    async with aiohttp.ClientSession() as session:
        for n in range(warmup + passes * len(questions)):
            question = questions[n % len(questions)]
            sender = f"pipeline-{n // TURNS_PER_CONVERSATION}-{time.time_ns()}"
            for name, url in urls.items():
                t0 = time.monotonic()
                async with session.post(
                    f"{url}/webhooks/rest/webhook",
                    json={"sender": f"{name}-{sender}", "message": question},
                ) as resp:
                    body = await resp.json()
                t1 = time.monotonic()
                if not isinstance(body, list) or not body:
                    out[name].errors += 1
                elif n >= warmup:
                    out[name].add(t0, t1)
    return {name: lat.to_dict() for name, lat in out.items()}


NLU_LINE = re.compile(
    r"^(?P<config>\S+)\s+intent acc (?P<acc>[\d.]+)\s+macro F1 (?P<f1>[\d.]+)\s+"
    r"response acc (?P<resp>\S+)"
)


def nlu_accuracy() -> dict[str, dict[str, str]]:
    """Run bench/nlu_accuracy.py, echo its output, return its figures per config."""
    found: dict[str, dict[str, str]] = {}
    proc = subprocess.Popen(
        [PYTHON, str(ROOT / "bench" / "nlu_accuracy.py")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        print("   " + line.rstrip(), flush=True)
        match = NLU_LINE.match(line.strip())
        if match:
            found[match["config"]] = match.groupdict()
    proc.wait()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--passes", type=int, default=3, help=f"passes over the {len(FAQ_QUESTIONS)} questions"
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--skip-nlu", action="store_true")
    args = parser.parse_args(argv)
    print_header("bench/pipeline.py — Rasa's default configuration vs ours")

    with Services(BENCH) as services:
        urls = {"ours": env_rasa("BENCH_RASA_OURS"), "default": env_rasa("BENCH_RASA_DEFAULT")}
        with timed("Rasa start"):
            started = []
            for name, config in (("ours", "config.yml"), ("default", "config.default.yml")):
                if urls[name] is None:
                    url, proc = services.rasa(config, name=f"rasa-{name}")
                    urls[name] = url
                    started.append((url, proc, f"rasa-{name}"))
            for url, proc, name in started:
                services.wait_rasa(url, proc, name)
        run = run_generators(
            rest_turns, [({k: str(v) for k, v in urls.items()}, args.passes, args.warmup)]
        )
    lat = {name: Latencies.from_dict(d) for name, d in run.results[0].items()}
    for name, values in lat.items():
        print(f"   REST turn, {name:<7} {values.text()}")
    ours, default = lat["ours"], lat["default"]
    figure(
        BENCH,
        "REST bot turn p50, ours vs Rasa default config",
        f"{ours.p50 * 1000:.1f} ms vs {default.p50 * 1000:.1f} ms",
        ratio_text(ours.p50, default.p50),
    )
    figure(
        BENCH,
        "REST bot turn p99, ours vs Rasa default config",
        f"{ours.p99 * 1000:.1f} ms vs {default.p99 * 1000:.1f} ms",
        ratio_text(ours.p99, default.p99),
    )

    if not args.skip_nlu:
        with timed("NLU accuracy"):
            found = nlu_accuracy()
        mine, theirs = found.get("config.yml"), found.get("config.default.yml")
        if mine and theirs:
            figure(
                BENCH,
                "held-out intent accuracy, ours vs default",
                f"{float(mine['acc']):.3f} vs {float(theirs['acc']):.3f}",
                f"macro F1 {float(mine['f1']):.3f} vs {float(theirs['f1']):.3f}",
            )
            figure(
                BENCH,
                "held-out response (FAQ answer) accuracy, ours vs default",
                f"{mine['resp']} vs {theirs['resp']}",
                "",
            )
        else:
            print("   NLU accuracy: no figures (see the output above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
