"""`make bench`: every benchmark, one after the other, then one table of their figures.

Benches that need Rasa's default and our configuration (bot_turn, pipeline) share one start
of each Rasa server; the others start what they need. Each bench runs as its own process with
a time limit; one failing does not stop the rest.

    .venv/bin/python bench/run_all.py [--only relay,connections]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, Services, print_header

ORDER = [
    "wait_honesty",
    "reports",
    "relay",
    "connections",
    "bot_turn",
    "pipeline",
    "nlu_accuracy",
    "rasa_workers",
    "abuse",
]
NEEDS_SHARED_RASA = {"bot_turn", "pipeline", "nlu_accuracy"}
LIMIT = {
    "wait_honesty": 300,
    "reports": 600,
    "relay": 300,
    "connections": 400,
    "bot_turn": 600,
    "pipeline": 900,
    "nlu_accuracy": 300,
    "rasa_workers": 600,
    "abuse": 200,
}


def run_bench(name: str, extra: list[str], env: dict[str, str]) -> tuple[list[str], str]:
    """Run one bench, streaming its output; returns its FIGURE lines and how it ended."""
    figures: list[str] = []
    started = time.monotonic()
    proc = subprocess.Popen(
        [PYTHON, str(ROOT / "bench" / f"{name}.py"), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        deadline = started + LIMIT[name]
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith("FIGURE |"):
                figures.append(line.strip())
            if time.monotonic() > deadline:
                break
        proc.wait(max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        proc.wait(30)
        return figures, f"stopped after {LIMIT[name]} s"
    took = time.monotonic() - started
    return figures, (
        f"ok, {took:.0f} s"
        if proc.returncode == 0
        else f"FAILED (exit {proc.returncode}), {took:.0f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated bench names")
    args = parser.parse_args(argv)
    names = [n for n in ORDER if not args.only or n in args.only.split(",")]
    print_header("make bench — " + ", ".join(names))
    t0 = time.monotonic()
    table: list[tuple[str, list[str], str]] = []
    env = dict(os.environ)
    with Services("run_all") as services:
        shared: list[subprocess.Popen[bytes]] = []
        for name in names:
            if name in NEEDS_SHARED_RASA and not shared:
                print(
                    "\n== starting Rasa (our config and the default config, shared by "
                    "bot_turn and pipeline)…",
                    flush=True,
                )
                ours, ours_proc = services.rasa("config.yml", name="rasa-ours")
                default, default_proc = services.rasa("config.default.yml", name="rasa-default")
                services.wait_rasa(ours, ours_proc, "rasa-ours")
                services.wait_rasa(default, default_proc, "rasa-default")
                shared = [ours_proc, default_proc]
                env = {
                    **env,
                    "BENCH_RASA_OURS": ours,
                    "BENCH_RASA_DEFAULT": default,
                    "BENCH_RASA_OURS_PID": str(ours_proc.pid),
                    "BENCH_RASA_DEFAULT_PID": str(default_proc.pid),
                }
            if shared and name not in NEEDS_SHARED_RASA:
                for proc in shared:  # free the cores before benches that start their own
                    services.stop(proc)
                env = {k: v for k, v in env.items() if not k.startswith("BENCH_RASA_")}
            print(f"\n{'=' * 100}", flush=True)
            extra = ["--skip-latency"] if name == "nlu_accuracy" else []  # bot_turn has it
            figures, status = run_bench(name, extra, env)
            table.append((name, figures, status))

    print(
        f"\n{'=' * 100}\nSUMMARY (make bench, {time.monotonic() - t0:.0f} s; ratios are "
        "against baselines measured in the same run)"
    )
    width = 60
    print(f"{'bench':<13} {'figure':<{width}} {'value':<44} comparison")
    for name, figures, status in table:
        if not figures:
            print(f"{name:<13} {'(no figures)':<{width}} {status}")
        for line in figures:
            _, _, figure, value, comparison = (p.strip() for p in line.split("|", 4))
            print(f"{name:<13} {figure:<{width}} {value:<44} {comparison}")
        if not status.startswith("ok"):
            print(f"{name:<13} {'':<{width}} {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
