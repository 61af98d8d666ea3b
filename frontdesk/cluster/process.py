"""One child process of the cluster: started in its own session (so it and its children are
one process group), logged to a file, checked for readiness, stopped or killed by its PID."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from frontdesk.errors import FrontdeskError

POLL = 0.1  # seconds between readiness checks


class ClusterError(FrontdeskError):
    """A part of the cluster did not start, or stopped unexpectedly."""


@dataclass
class Child:
    """A named process: how to run it, how to tell it is ready, and how to stop it."""

    name: str
    argv: list[str]
    log_path: Path
    ready: Callable[[], bool]
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    stop_signal: int = signal.SIGTERM
    start_timeout: float = 60.0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        """Start the process (not waiting for it to be ready)."""
        if self.running:
            raise ClusterError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as one
            )

    def wait_ready(self, timeout: float | None = None) -> float:
        """Wait until ready(); the seconds it took. ClusterError if it exits or times out."""
        started = time.monotonic()
        deadline = started + (self.start_timeout if timeout is None else timeout)
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise ClusterError(f"{self.name} exited ({code}) at start-up: {self.log_tail()}")
            if self.ready():
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{self.name} was not ready in {deadline - started:.0f} s: {self.log_tail()}"
                )
            time.sleep(POLL)

    def kill(self) -> None:
        """SIGKILL to the process group (no clean-up: a crash, as `kill -9` does it)."""
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self, grace: float = 15.0) -> None:
        """Its stop signal, then SIGKILL to the group after `grace` seconds (and always to
        whatever of the group is left, such as nginx's workers)."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def group_alive(self) -> bool:
        """Whether any process of its group is left (the leader included)."""
        if self.proc is None:
            return False
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no log)"
        return f"(log {self.log_path}) " + " / ".join(text)
