"""Starts and stops a Rasa server as a child process (for `server.py run`, tests and benches)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import signal
import time
from pathlib import Path

import aiohttp

from frontdesk.botmodel import BOT_DIR, rasa_executable
from frontdesk.errors import BotUnavailable

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child process (Linux): receive SIGTERM when the parent dies, however it dies, so
    Rasa never outlives the gateway that started it."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's stop() still ends it
        pass


# Seconds a conversation's lock in Rasa's lock store lives. A Rasa killed in the middle of a turn
# leaves its lock behind; with Rasa's default (60 s) the replica that takes the conversation over
# waits a minute and the turn times out. A turn takes well under a second.
LOCK_LIFETIME = "5"


def rasa_env() -> dict[str, str]:
    return {
        "TICKET_LOCK_LIFETIME": LOCK_LIFETIME,
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


class RasaProcess:
    """One `rasa run --enable-api` process serving a model on a port."""

    def __init__(
        self,
        model: Path,
        port: int,
        *,
        endpoints: Path | None = None,
        credentials: Path | None = None,
        log_path: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.model = model
        self.port = port
        self.host = host
        self.endpoints = endpoints
        self.credentials = credentials or BOT_DIR / "credentials.yml"
        self.log_path = log_path
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        command = [str(rasa_executable()), "run", "--enable-api", "-m", str(self.model)]
        command += ["-i", self.host, "-p", str(self.port), "--cors", "*"]
        if self.endpoints:
            command += ["--endpoints", str(self.endpoints)]
        if self.credentials:
            command += ["--credentials", str(self.credentials)]
        return command

    async def start(self, timeout: float = 240.0) -> None:
        command = self.command()
        out = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115, ASYNC230
        self._proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=BOT_DIR,
            env=rasa_env(),
            stdout=out,
            stderr=out,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        if out:
            out.close()
        await self.wait_ready(timeout)

    async def wait_ready(self, timeout: float) -> None:
        """Poll /status until the model is loaded, the process dies, or time runs out."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.returncode is not None:
                    raise BotUnavailable(f"Rasa exited with {self._proc.returncode} at start-up")
                try:
                    async with session.get(
                        f"{self.url}/status", timeout=aiohttp.ClientTimeout(total=2)
                    ) as resp:
                        if resp.status == 200 and (await resp.json()).get("model_file"):
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.5)
        raise BotUnavailable(f"Rasa did not become ready on {self.url} in {timeout:.0f} s")

    async def stop(self, grace: float = 15.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
