"""Every benchmark still runs against today's code (issue 24: benches must not rot).

Each bench of `make bench` (bench/run_all.py's ORDER) runs in its quick mode (`--quick`: tiny
sizes, a few seconds) as its own process, as a user runs it: it must exit 0 and print its
FIGURE lines. No figure is asserted — timings never are — only that the bench runs. The Rasa
benches use the test session's Rasa (BENCH_RASA_OURS); the others start what they need (their
own redis-server, gateways, stand-in bots).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from frontdesk.config import ROOT
from tests.conftest import free_port

BENCH = ROOT / "bench"
NEEDS_RASA = {"bot_turn", "pipeline", "nlu_accuracy", "rasa_workers", "cluster"}
TIMEOUT = 240  # seconds: a hung bench fails instead of hanging the suite


def ordered_benches() -> list[str]:
    """The benches `make bench` runs, read from bench/run_all.py (no import: it is a script)."""
    source = (BENCH / "run_all.py").read_text(encoding="utf-8")
    block = re.search(r"^ORDER = \[(.*?)\]", source, re.S | re.M)
    assert block, "bench/run_all.py has no ORDER list"
    return re.findall(r'"(\w+)"', block.group(1))


BENCHES = ordered_benches()


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def bench_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_RASA")}
    return {**env, **extra}


def figures(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FIGURE |")]


def test_every_bench_file_is_run_by_make_bench() -> None:
    """A bench that prints figures but is not in run_all's ORDER would rot unseen."""
    printing = {
        path.stem
        for path in BENCH.glob("*.py")
        if path.stem not in ("common", "run_all") and "figure(" in path.read_text(encoding="utf-8")
    }
    assert printing <= set(BENCHES), f"not in bench/run_all.py ORDER: {printing - set(BENCHES)}"


@pytest.mark.parametrize("name", BENCHES)
def test_bench_runs_in_quick_mode(name: str, request: pytest.FixtureRequest) -> None:
    env = bench_env()
    if name in NEEDS_RASA:
        env["BENCH_RASA_OURS"] = request.getfixturevalue("rasa_url")
    result = run([sys.executable, str(BENCH / f"{name}.py"), "--quick"], env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"bench/{name}.py --quick failed:\n{output[-4000:]}"
    assert figures(result.stdout), f"bench/{name}.py --quick printed no FIGURE line:\n{output}"
    assert all(len(line.split("|")) == 5 for line in figures(result.stdout)), output


def test_make_bench_ends_with_its_table_and_fails_when_a_bench_fails(tmp_path: Path) -> None:
    """run_all keeps going when a bench fails, prints the table with the failure in it, and
    exits non-zero. The failing bench: the NLU bench against a Rasa that is not there."""
    dead = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, str(BENCH / "run_all.py"), "--quick"]
    result = run([*command, "--only", "nlu_accuracy,reports"], bench_env(BENCH_RASA_OURS=dead))
    summary = result.stdout.split("SUMMARY", 1)
    assert result.returncode == 1, result.stdout[-4000:]
    assert len(summary) == 2, f"no summary table:\n{result.stdout[-4000:]}"
    table = summary[1]
    assert re.search(r"^nlu_accuracy .*FAILED", table, re.M), table
    assert re.search(r"^reports .*30-day report", table, re.M), table  # the others still ran
    assert "1 of 2 benches FAILED: nlu_accuracy" in table


def test_make_bench_names_an_unknown_bench() -> None:
    result = run([sys.executable, str(BENCH / "run_all.py"), "--only", "relay,nope"], bench_env())
    assert result.returncode == 2
    assert "no such bench: nope" in result.stderr
