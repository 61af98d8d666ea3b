"""`make bench`: every benchmark, one after the other, then one table of their figures.

Benches that need Rasa's default and our configuration (bot_turn, pipeline) share one start
of each Rasa server (BENCH_RASA_OURS / BENCH_RASA_DEFAULT in the environment: running ones are
used instead); the others start what they need. Each bench runs as its own process with a time
limit; one failing does not stop the rest, and the run exits non-zero when any failed.

`--quick` runs every bench in its quick mode (tiny sizes, a few seconds each: does everything
still run against today's code?). Quick mode starts no Rasa of its own when BENCH_RASA_OURS
names one, never starts Rasa's default configuration (a second trained model) and lets the
one Rasa stand in for rasa_workers' two.

    .venv/bin/python bench/run_all.py [--only relay,connections] [--quick]
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
    "cluster",
    "search",
]
NEEDS_SHARED_RASA = {"bot_turn", "pipeline", "nlu_accuracy"}
QUICK_LIMIT = 150  # seconds per bench in quick mode
LIMIT = {
    "wait_honesty": 600,
    "reports": 600,
    "relay": 300,
    "connections": 400,
    "bot_turn": 600,
    "pipeline": 900,
    "nlu_accuracy": 300,
    "rasa_workers": 600,
    "abuse": 200,
    "cluster": 1200,
    "search": 600,
}


def run_bench(
    name: str, extra: list[str], env: dict[str, str], limit: float = 0
) -> tuple[list[str], str]:
    """Run one bench, streaming its output; returns its FIGURE lines and how it ended."""
    figures: list[str] = []
    limit = limit or LIMIT[name]
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
        deadline = started + limit
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
        return figures, f"FAILED: stopped after {limit:.0f} s"
    took = time.monotonic() - started
    return figures, (
        f"ok, {took:.0f} s"
        if proc.returncode == 0
        else f"FAILED (exit {proc.returncode}), {took:.0f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated bench names")
    parser.add_argument("--quick", action="store_true", help="every bench in its quick mode")
    args = parser.parse_args(argv)
    wanted = [n for n in args.only.split(",") if n]
    unknown = [n for n in wanted if n not in ORDER]
    if unknown:
        parser.error(f"no such bench: {', '.join(unknown)} (benches: {', '.join(ORDER)})")
    names = [n for n in ORDER if not wanted or n in wanted]
    print_header("make bench" + (" --quick" if args.quick else "") + " — " + ", ".join(names))
    t0 = time.monotonic()
    table: list[tuple[str, list[str], str]] = []
    env = dict(os.environ)
    # In quick mode one Rasa (ours) also stands in for rasa_workers' two and serves the cluster.
    needs_rasa = NEEDS_SHARED_RASA | ({"rasa_workers", "cluster"} if args.quick else set())
    with Services("run_all") as services:
        shared: list[subprocess.Popen[bytes]] = []
        for name in names:
            if name in needs_rasa and not shared:
                env, shared = start_rasa(services, env, args.quick)
            if shared and name not in needs_rasa:
                for proc in shared:  # free the cores before benches that start their own
                    services.stop(proc)
                env = {k: v for k, v in env.items() if not k.startswith("BENCH_RASA_")}
                shared = []
            print(f"\n{'=' * 100}", flush=True)
            extra = ["--skip-latency"] if name == "nlu_accuracy" else []  # bot_turn has it
            if args.quick:
                extra.append("--quick")
            figures, status = run_bench(name, extra, env, QUICK_LIMIT if args.quick else 0)
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
    failed = [name for name, _, status in table if not status.startswith("ok")]
    if failed:
        print(f"\n{len(failed)} of {len(table)} benches FAILED: {', '.join(failed)}")
    return 1 if failed else 0


def start_rasa(
    services: Services, env: dict[str, str], quick: bool
) -> tuple[dict[str, str], list[subprocess.Popen[bytes]]]:
    """The Rasa servers the Rasa benches share: those named in the environment, else started
    here (ours, and Rasa's default config unless quick). Returns the benches' environment and
    the processes started (to stop before the benches that start their own)."""
    configs = (
        {"OURS": "config.yml"} if quick else {"OURS": "config.yml", "DEFAULT": "config.default.yml"}
    )
    missing = {k: c for k, c in configs.items() if not env.get(f"BENCH_RASA_{k}")}
    if not missing:
        return env, []
    print(
        f"\n== starting Rasa ({', '.join(missing.values())}), shared by the Rasa benches…",
        flush=True,
    )
    started = {
        key: services.rasa(config, name=f"rasa-{key.lower()}") for key, config in missing.items()
    }
    for key, (url, proc) in started.items():
        services.wait_rasa(url, proc, f"rasa-{key.lower()}")
    env = dict(env)
    for key, (url, proc) in started.items():
        env[f"BENCH_RASA_{key}"] = url
        env[f"BENCH_RASA_{key}_PID"] = str(proc.pid)
    return env, [proc for _, proc in started.values()]


if __name__ == "__main__":
    sys.exit(main())
