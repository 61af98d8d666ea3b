"""Where the cluster's parts listen (Ports) and how to tell each one is ready."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import redis

from frontdesk.cluster.configs import MASTER


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class Ports:
    nginx: int
    gateways: tuple[int, ...]
    rasa: tuple[int, ...]
    redis: tuple[int, ...]  # the first starts as the primary, the others as its replicas
    sentinels: tuple[int, ...]

    @classmethod
    def starting_at(cls, base: int, gateways: int = 3, rasa: int = 2) -> Ports:
        """nginx on base, gateways base+1…, Rasa base+11…, Redis base+21…, sentinels base+31…"""
        return cls(
            nginx=base,
            gateways=tuple(base + 1 + i for i in range(gateways)),
            rasa=tuple(base + 11 + i for i in range(rasa)),
            redis=(base + 21, base + 22),
            sentinels=(base + 31, base + 32, base + 33),
        )

    @classmethod
    def free(cls, gateways: int = 3, rasa: int = 2) -> Ports:
        """Ports nobody listens on now (for tests)."""
        return cls(
            nginx=free_port(),
            gateways=tuple(free_port() for _ in range(gateways)),
            rasa=tuple(free_port() for _ in range(rasa)),
            redis=(free_port(), free_port()),
            sentinels=(free_port(), free_port(), free_port()),
        )

    def all(self) -> list[int]:
        return [self.nginx, *self.gateways, *self.rasa, *self.redis, *self.sentinels]


def _http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def answers(url: str) -> Callable[[], bool]:
    """Ready when the URL answers at all (a gateway's /healthz is 503 while Rasa starts)."""
    return lambda: _http_status(url) in (200, 503)


def rasa_ready(url: str) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/status", timeout=2) as resp:
                return bool(json.load(resp).get("model_file"))
        except (OSError, ValueError):
            return False

    return ready


def redis_client(port: int, timeout: float = 2.0) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=timeout, socket_connect_timeout=timeout)


def redis_ready(port: int, replica: bool) -> Callable[[], bool]:
    def ready() -> bool:
        client = redis_client(port)
        try:
            if not replica:
                return bool(client.ping())
            info = client.info("replication")
            return info.get("master_link_status") == "up"
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    return ready


def sentinel_ready(port: int, replicas: int, sentinels: int) -> Callable[[], bool]:
    """Ready when it knows the primary, its replicas and the other sentinels: only then can a
    failover happen."""

    def ready() -> bool:
        client = redis_client(port)
        try:
            state = client.sentinel_master(MASTER)
            if not isinstance(state, dict):
                return False
            return (
                int(state.get("num-slaves", 0)) >= replicas
                and int(state.get("num-other-sentinels", 0)) >= sentinels - 1
            )
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    return ready


def upstream_for(nginx_port: int, source: str) -> int:
    """The gateway port nginx sends a client at address `source` (127.0.0.N) to: it hashes the
    client's address, and the launcher's nginx names the process it chose in a header."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", nginx_port, timeout=10, source_address=(source, 0)
    )
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        upstream = resp.getheader("X-Frontdesk-Upstream") or ""
    finally:
        conn.close()
    # "127.0.0.1:8081" (or, after a failed try, "127.0.0.1:8081, 127.0.0.1:8082": the last).
    return int(upstream.rsplit(",", 1)[-1].rsplit(":", 1)[-1])
