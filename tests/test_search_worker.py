"""The search index is written by a process of its own (frontdesk.search.worker), not by the
gateway's: killed, it is started again and catches up; when its gateway goes (the pipe to it
closes, as when the gateway is killed), it stops by itself. Real gateway, Redis and Rasa."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from frontdesk.console.search_views import SEARCH
from frontdesk.search.worker import IndexerProcess
from tests.search_support import caught_up, clients, consoles, say

__all__ = ["clients", "consoles"]  # the fixtures


async def test_the_index_is_written_by_a_process_of_its_own_started_again_if_it_dies(
    gateway: TestServer, clients: list[Any], consoles: Callable[..., Any]
) -> None:
    worker = gateway.app[SEARCH].worker
    assert worker is not None
    first = await say(gateway, clients, "my umbrella arrived broken")
    await caught_up(gateway)
    assert worker.proc is not None
    killed = worker.proc.pid
    assert killed != os.getpid()
    worker.started.clear()
    os.kill(killed, signal.SIGKILL)
    async with asyncio.timeout(30):  # started again
        await worker.started.wait()
    assert worker.proc.pid != killed
    second = await say(gateway, clients, "the kettle leaks everywhere")
    await caught_up(gateway)
    lena = await consoles(gateway, "lena", "lead")
    assert await lena.found("umbrella") == [first.session_id]
    assert await lena.found("kettle") == [second.session_id]


async def test_the_indexer_stops_when_its_gateway_goes(redis_url: str, tmp_path: Path) -> None:
    worker = IndexerProcess(tmp_path, redis_url)
    worker.start()
    async with asyncio.timeout(30):
        await worker.started.wait()
    proc = worker.proc
    assert proc is not None
    assert worker._task is not None
    worker._task.cancel()  # nobody starts it again, as with a gateway killed
    assert proc.stdin is not None
    proc.stdin.close()  # what the kernel does to the pipe of a gateway that died
    async with asyncio.timeout(30):
        assert await proc.wait() == 0
