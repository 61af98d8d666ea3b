"""`make cluster` / `python -m frontdesk.cluster`: the topology of deploy/README.md on this
machine, on loopback. Prints the URL; Ctrl-C (or SIGTERM) stops every process it started."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from frontdesk.cluster.launcher import Cluster
from frontdesk.cluster.process import ClusterError
from frontdesk.cluster.ready import Ports
from frontdesk.config import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m frontdesk.cluster", description=__doc__)
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="nginx's port (default 8080); "
        "gateways on PORT+1…, Rasa PORT+11…, Redis PORT+21…, sentinels PORT+31…",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=ROOT / "var" / "cluster",
        help="configs, data and logs (default var/cluster)",
    )
    parser.add_argument("--gateways", type=int, default=3, choices=range(1, 10))
    parser.add_argument("--rasa", type=int, default=2, choices=range(1, 10))
    args = parser.parse_args(argv)
    cluster = Cluster(args.dir, Ports.starting_at(args.port, args.gateways, args.rasa))
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            return
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stopping)
    signal.signal(signal.SIGTERM, stopping)
    try:
        print(f"Starting the cluster in {args.dir} (Rasa takes a minute or more)…", flush=True)
        cluster.start()
        print(f"\nfrontdesk cluster is up: open {cluster.url}/  (console: {cluster.url}/console/)")
        print(
            f"REDIS_SENTINELS={cluster.sentinels} REDIS_SENTINEL_MASTER=frontdesk "
            "for the CLI (server.py agents …)"
        )
        print("\n".join(cluster.describe()))
        print("Ctrl-C stops all of it.", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("Stopping the cluster…", flush=True)
        try:
            cluster.stop()
            print("Stopped: no process of the cluster is left.", flush=True)
        except ClusterError as exc:
            print(f"cluster: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
