"""The cluster's configuration files: Redis primary and replica, the sentinels, and nginx (the
deploy/nginx snippets themselves, with the upstream and the limits filled in)."""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass
from pathlib import Path

from frontdesk.config import ROOT

DEPLOY = ROOT / "deploy"
MASTER = "frontdesk"  # the name the sentinels monitor (REDIS_SENTINEL_MASTER)
DOWN_AFTER_MS = 2000  # how long the primary may be silent before a sentinel calls it down
FAILOVER_TIMEOUT_MS = 10000


@dataclass(frozen=True)
class NginxLimits:
    """deploy/nginx's per-address limits (the defaults are the files' own values). Load tests
    from one loopback address raise them, as a shop would for a known office NAT."""

    socketio_rate: int = 20  # requests/s per address on /socket.io/
    socketio_burst: int = 60
    connections: int = 100  # connections at once per address

    @classmethod
    def relaxed(cls) -> NginxLimits:
        # nginx refuses a connection limit of 65536 or more.
        return cls(socketio_rate=100_000, socketio_burst=100_000, connections=65_000)


def redis_conf(directory: Path, port: int, primary_port: int | None) -> str:
    """A Redis node on loopback; a replica of primary_port when given. Sentinel rewrites this
    file (CONFIG REWRITE) when it promotes or demotes the node."""
    lines = [
        "bind 127.0.0.1",
        f"port {port}",
        f"dir {directory}",
        "daemonize no",
        f"pidfile {directory / 'redis.pid'}",
        "appendonly yes",
        "appendfsync everysec",
        "save ''",
        "protected-mode no",
    ]
    if primary_port is not None:
        lines.append(f"replicaof 127.0.0.1 {primary_port}")
    return "\n".join(lines) + "\n"


def sentinel_conf(directory: Path, port: int, primary_port: int, quorum: int = 2) -> str:
    """A sentinel watching the primary (it learns the replica and the other sentinels)."""
    return (
        "\n".join(
            [
                "bind 127.0.0.1",
                f"port {port}",
                f"dir {directory}",
                "daemonize no",
                "protected-mode no",
                f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} {quorum}",
                f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {MASTER} 1",
            ]
        )
        + "\n"
    )


def _locations(limits: NginxLimits) -> str:
    text = (DEPLOY / "nginx" / "frontdesk-locations.conf").read_text()
    text = re.sub(
        r"zone=frontdesk_socketio burst=\d+",
        f"zone=frontdesk_socketio burst={limits.socketio_burst}",
        text,
    )
    conn = f"limit_conn frontdesk_conn {limits.connections}"
    return re.sub(r"limit_conn frontdesk_conn \d+", conn, text)


def _http(limits: NginxLimits) -> str:
    text = (DEPLOY / "nginx" / "frontdesk-http.conf").read_text()
    return re.sub(
        r"zone=frontdesk_socketio:10m rate=\d+r/s",
        f"zone=frontdesk_socketio:10m rate={limits.socketio_rate}r/s",
        text,
    )


def nginx_conf(prefix: Path, port: int, gateways: list[int], limits: NginxLimits) -> str:
    """A whole nginx.conf for a non-daemon nginx in `prefix` (pid, logs and temp files there),
    listening on 127.0.0.1:port in front of the gateway ports."""
    (prefix / "frontdesk-http.conf").write_text(_http(limits))
    (prefix / "frontdesk-locations.conf").write_text(_locations(limits))
    servers = "".join(
        f"        server 127.0.0.1:{p} max_fails=3 fail_timeout=5s;\n" for p in gateways
    )
    # As root nginx's workers would switch to `nobody`, who cannot write the temp dirs here.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path {prefix / 'tmp' / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes 1;\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 16384; }\n"
        "worker_rlimit_nofile 40000;\n"
        "http {\n"
        f"    access_log {prefix / 'access.log'};\n"
        f"{temp}"
        f"    include {prefix / 'frontdesk-http.conf'};\n"
        "    upstream frontdesk {\n"
        "        hash $remote_addr consistent;\n"
        f"{servers}"
        "    }\n"
        "    server {\n"
        # A killed gateway's widgets all come back at once (deploy/nginx/frontdesk.conf).
        f"        listen 127.0.0.1:{port} backlog=4096;\n"
        # Which gateway process answered (tests and benches place clients by it).
        "        add_header X-Frontdesk-Upstream $upstream_addr always;\n"
        f"        include {prefix / 'frontdesk-locations.conf'};\n"
        "    }\n"
        "}\n"
    )
