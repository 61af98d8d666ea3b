"""Item 6 — pipeline: Rasa's default configuration against ours (bot/config.yml).

1. Bot turn on Rasa's REST channel (what the gateway calls), one request at a time, same FAQ
   questions, requests to the two Rasa servers interleaved so drift hits both alike;
   conversations of 5 turns. Prints p50/p99 per config and their ratio.
   (How well the bot understands customers is bench/nlu_accuracy.py.)

    .venv/bin/python bench/pipeline.py [--passes 3] [--quick]

Set BENCH_RASA_OURS / BENCH_RASA_DEFAULT to reuse running Rasa servers (run_all.py does).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    FAQ_QUESTIONS,
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


async def rest_turns(
    urls: dict[str, str], passes: int, warmup: int, questions: list[str]
) -> dict[str, Any]:
    """Sequential REST turns, alternating between the Rasa servers."""
    import aiohttp

    out = {name: Latencies() for name in urls}
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--passes", type=int, default=3, help=f"passes over the {len(FAQ_QUESTIONS)} questions"
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one pass over 5 questions; Rasa's default config only if BENCH_RASA_DEFAULT gives "
        "one (no second model is started): checks that it runs",
    )
    args = parser.parse_args(argv)
    questions = list(FAQ_QUESTIONS)
    if args.quick:
        args.passes, args.warmup, questions = 1, 1, questions[:5]
    print_header("bench/pipeline.py — Rasa's default configuration vs ours")

    with Services(BENCH) as services:
        urls = {"ours": env_rasa("BENCH_RASA_OURS"), "default": env_rasa("BENCH_RASA_DEFAULT")}
        with timed("Rasa start"):
            started = []
            if args.quick and urls["default"] is None:
                del urls["default"]
                print(
                    "   quick mode: Rasa's default configuration is not started (it needs a "
                    "second trained model); only ours is measured",
                    flush=True,
                )
            for name, config in (("ours", "config.yml"), ("default", "config.default.yml")):
                if name in urls and urls[name] is None:
                    url, proc = services.rasa(config, name=f"rasa-{name}")
                    urls[name] = url
                    started.append((url, proc, f"rasa-{name}"))
            for url, proc, name in started:
                services.wait_rasa(url, proc, name)
        run = run_generators(
            rest_turns,
            [({k: str(v) for k, v in urls.items()}, args.passes, args.warmup, questions)],
        )
    lat = {name: Latencies.from_dict(d) for name, d in run.results[0].items()}
    for name, values in lat.items():
        print(f"   REST turn, {name:<7} {values.text()}")
    ours, default = lat["ours"], lat.get("default")
    if default is None:
        figure(
            BENCH,
            "REST bot turn p50 / p99, ours",
            f"{ours.p50 * 1000:.1f} / {ours.p99 * 1000:.1f} ms",
            "Rasa's default config not measured (quick mode)",
        )
        return 0
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

    return 0


if __name__ == "__main__":
    sys.exit(main())
