"""Run the gateway with a meter on: its Redis round trips, and optionally a cProfile.

    .venv/bin/python bench/profiled.py [--profile] OUT server.py gateway

Counts every request the process writes to Redis (one per single command, pipeline or script:
redis-py's `send_packed_command`), the figure bench/relay.py prints as round trips. SIGUSR1
starts a window afresh; SIGUSR2 ends it and writes OUT.json (`{"redis_round_trips": n}`) and,
with --profile, OUT.pstats (cProfile of exactly that window). So a bench meters its measured
window, not the start-up. The script runs as __main__ with its own arguments.
"""

from __future__ import annotations

import cProfile
import functools
import json
import runpy
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from redis.asyncio.connection import AbstractConnection


def main() -> None:
    argv = sys.argv[1:]
    profiling = argv[0] == "--profile"
    out, script, *args = argv[1:] if profiling else argv
    profiler = cProfile.Profile()
    trips = [0]
    send = AbstractConnection.send_packed_command

    @functools.wraps(send)
    async def counted(self: AbstractConnection, *a: Any, **kw: Any) -> None:
        trips[0] += 1
        await send(self, *a, **kw)

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]

    def start(signum: int, frame: FrameType | None) -> None:
        trips[0] = 0
        if profiling:
            profiler.disable()
            profiler.clear()
            profiler.enable()

    def stop(signum: int, frame: FrameType | None) -> None:
        if profiling:
            profiler.disable()
            profiler.dump_stats(f"{out}.pstats")
        done = Path(f"{out}.json")  # written whole, then renamed: a reader sees all or nothing
        done.with_suffix(".tmp").write_text(json.dumps({"redis_round_trips": trips[0]}))
        done.with_suffix(".tmp").replace(done)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.argv = [script, *args]
    # As `python script` would: the script's directory first on the path, so the gateway is
    # the one beside the script (a checkout or copy), not the package installed in the venv.
    sys.path[0] = str(Path(script).resolve().parent)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
