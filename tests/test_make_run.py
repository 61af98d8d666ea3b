"""`make run` as a new user runs it: embedded Redis (no REDIS_URL), Rasa started by the product
itself, a customer who gets answers, and Ctrl-C or SIGTERM that leaves no process behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from frontdesk.config import ROOT
from tests.conftest import free_port
from tests.support import WidgetClient

pytestmark = pytest.mark.rasa


class MakeRun:
    """`make run` in its own process group, as a terminal runs a foreground command."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log_path = data_dir / "make-run.log"
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RASA_URL")}
        env.update(PORT=str(self.port), RASA_PORT=str(free_port()), DATA_DIR=str(data_dir))
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = psutil.Process(self.proc.pid)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_up(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "frontdesk is up" in self.output():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)  # polling a starting process, not synchronising work
        raise AssertionError(f"make run did not come up:\n{self.output()[-3000:]}")

    def ours(self) -> list[psutil.Process]:
        """Every process this run started: make's descendants, and the embedded redis-server
        (it daemonizes, so it is found by its working directory, the data directory)."""
        found: list[psutil.Process] = []
        with contextlib.suppress(psutil.NoSuchProcess):
            found = psutil.Process(self.proc.pid).children(recursive=True)
        for proc in psutil.process_iter(["name", "cwd"]):
            if "redis" in (proc.info["name"] or "") and proc.info["cwd"] == str(self.data_dir):
                found.append(proc)
        return found

    def close(self) -> None:
        for proc in self.ours():
            proc.kill()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[MakeRun]:
    run = MakeRun(tmp_path)
    try:
        yield run
    finally:
        run.close()


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def stopped_within(run: MakeRun, sig: signal.Signals, pids: list[psutil.Process]) -> float:
    started = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(run.proc.pid, sig)  # Ctrl-C: the whole foreground process group
    else:
        run.proc.send_signal(sig)  # `kill <pid of make>`
    _, alive = psutil.wait_procs([run.process, *pids], timeout=25)
    assert not alive, f"still running after {sig.name}: {[p.pid for p in alive]}"
    return time.monotonic() - started


async def test_make_run_answers_and_ctrl_c_stops_everything(make_run: MakeRun) -> None:
    make_run.wait_up()
    status, body = get(f"{make_run.url}/healthz")
    assert status == 200, body
    customer = WidgetClient(make_run.url)
    try:
        await customer.connect()
        await customer.say("How can I pay for my order?")
        answer = " ".join(m.get("text", "") for m in await customer.answer())
        assert "PayPal" in answer or "card" in answer.lower(), answer
    finally:
        await customer.close()
    ours = make_run.ours()
    names = " ".join(" ".join(p.cmdline()) for p in ours)
    assert "rasa" in names and "redis-server" in names and "server.py" in names, names
    seconds = stopped_within(make_run, signal.SIGINT, ours)
    assert seconds < 20
    assert not make_run.ours()


async def test_sigterm_to_make_stops_everything(make_run: MakeRun) -> None:
    make_run.wait_up()
    ours = make_run.ours()
    assert len(ours) >= 3  # the gateway, Rasa, the embedded redis-server
    seconds = stopped_within(make_run, signal.SIGTERM, ours)
    assert seconds < 20
    assert not make_run.ours()
