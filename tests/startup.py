"""Waiting for a server the tests (or the benchmarks, through bench/procs.py) started.

Plain functions without pytest, so that conftest.py and the benchmarks import them without
importing a pytest plugin (tests/support.py) early."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll a starting child process until check() holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} at start-up")
        if check():
            return
        time.sleep(0.2)  # polling a process that is starting, not synchronising work
    raise RuntimeError(f"{what} did not become ready in {timeout:.0f} s")


def redis_answers(port: int) -> bool:
    """Whether a Redis server on 127.0.0.1:port answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False
