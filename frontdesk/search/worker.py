"""This machine's search indexer in a process of its own, which a gateway process starts and
restarts.

Indexing reads each changed conversation's whole transcript from Redis and writes it to SQLite,
in bursts every couple of seconds. Inside the gateway's process those bursts held the event loop
and the GIL while customers waited (about a tenth more CPU per relayed message, and the slowest
replies: bench/relay.py prints the indexer's CPU apart). Here it has a process of its own.

The gateway starts `python -m frontdesk.search DATA_DIR` with the Redis URL it uses
(REDIS_URL; the embedded server's, or Sentinel's) and keeps the child's stdin open: when the
gateway goes, even killed, stdin closes and the indexer stops. A child that dies is started
again. Which process of a machine indexes is still decided by the index's flock
(frontdesk.search.feed.Indexer): several gateways on one machine each keep a child, and one
of them indexes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from frontdesk.search.feed import RETRY, Indexer

log = logging.getLogger(__name__)

INDEX_FILE = "search.sqlite3"
STOP_WAIT = 5.0  # seconds the indexer has to finish its batch when the gateway stops


class IndexerProcess:
    """The gateway's side: the child indexer, kept running (see the module)."""

    def __init__(self, data_dir: Path, redis_url: str) -> None:
        self.data_dir = data_dir
        self.redis_url = redis_url
        self.proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self.started = asyncio.Event()  # set each time a child is started

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_running())

    async def _keep_running(self) -> None:
        env = {**os.environ, "REDIS_URL": self.redis_url}
        command = [sys.executable, "-m", "frontdesk.search", str(self.data_dir)]
        while True:
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    *command, stdin=asyncio.subprocess.PIPE, env=env
                )
            except OSError as exc:  # out of processes or files: the index waits, not the chat
                log.error("could not start the search indexer process: %s", exc)
            else:
                self.started.set()
                code = await self.proc.wait()
                log.warning("search indexer process exited (%s); starting it again", code)
            await asyncio.sleep(RETRY)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the child's signal to stop
        try:
            await asyncio.wait_for(proc.wait(), STOP_WAIT)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def index(data_dir: Path, redis_url: str) -> None:
    """The child's side: index until stdin closes (the gateway went) or SIGTERM."""
    from frontdesk.resources import open_redis  # the gateway's own client settings

    redis = open_redis(redis_url)
    indexer = Indexer(redis, data_dir / INDEX_FILE)
    running = asyncio.create_task(indexer.run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    parent = asyncio.create_task(asyncio.to_thread(sys.stdin.buffer.read))  # EOF: gone
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, parent, stopping}, return_when=asyncio.FIRST_COMPLETED)
    running.cancel()
    stopping.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    await redis.aclose()
    os._exit(0)  # the thread still reading stdin (when stopped by a signal) is not waited for


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not os.environ.get("REDIS_URL"):
        print("usage: REDIS_URL=… python -m frontdesk.search DATA_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(index(Path(argv[0]), os.environ["REDIS_URL"]))
    return 0
