"""Redis behind Sentinel: where the primary is, asked of the sentinels, again after a failover.

The gateway names Redis with one URL everywhere. REDIS_SENTINELS and REDIS_SENTINEL_MASTER
become `redis+sentinel://host1:port1,host2:port2/DB/MASTER` (the form python-socketio's
AsyncRedisManager reads too), and `open_client` turns either kind of URL into a client whose
pool waits (bounded) for a free connection and writes without a Task per command
(frontdesk.store.connection). A sentinel client's connections ask the sentinels for the
primary when they connect; after a failover the old primary's connections fail (or answer
READONLY) and the next command reconnects to the new primary: no restart needed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

from frontdesk.store.connection import TimedWrites, timed_writes

SCHEME = "redis+sentinel"


class SentinelConnection(TimedWrites, SentinelManagedConnection):
    """A connection to whichever server the sentinels name primary, with timed writes."""


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool (finds the primary, drops idle connections to an old one) that waits,
    like the gateway's BlockingConnectionPool, for a free connection instead of failing."""


class SentinelRedis(Redis):
    """The primary's client; closing it also closes its connections to the sentinels."""

    sentinels: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.sentinels is not None:
            await self.sentinels.aclose()


def sentinel_url(sentinels: tuple[tuple[str, int], ...], master: str, db: int = 0) -> str:
    hosts = ",".join(f"{host}:{port}" for host, port in sentinels)
    return f"{SCHEME}://{hosts}/{db}/{master}"


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, int]:
    """(sentinels, master name, db) of a redis+sentinel:// URL; ValueError when malformed."""
    parsed = urlparse(url)
    if parsed.scheme != SCHEME:
        raise ValueError(f"not a {SCHEME}:// URL: {url!r}")
    sentinels: list[tuple[str, int]] = []
    for part in parsed.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a sentinel must be host:port, got {part!r}")
        sentinels.append((host.strip("[]"), int(port)))
    parts = parsed.path.split("/")
    db = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    master = parts[2] if len(parts) > 2 else ""
    if not master:
        raise ValueError(f"the URL names no master: {url!r}")
    return sentinels, master, db


def is_sentinel(url: str) -> bool:
    return url.startswith(f"{SCHEME}://")


def open_client(url: str, max_connections: int, pool_wait: float, **options: Any) -> Redis:
    """A client for redis://, rediss://, unix:// or redis+sentinel:// (the client owns its pool:
    aclose() closes it). `options` are connection options (timeouts, keepalive)."""
    if not is_sentinel(url):
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=pool_wait, **options
        )
        return Redis.from_pool(timed_writes(pool))
    sentinels, master, db = parse_sentinel_url(url)
    # Sentinels answer quickly or not at all: a short timeout lets the next one be asked.
    asking = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
    sentinel = Sentinel(sentinels, sentinel_kwargs=asking, db=db, **options)  # type: ignore[no-untyped-call]
    client: SentinelRedis = sentinel.master_for(
        master,
        redis_class=SentinelRedis,
        connection_pool_class=BlockingSentinelPool,
        connection_class=SentinelConnection,
        max_connections=max_connections,
        timeout=pool_wait,
    )
    client.sentinels = sentinel
    return client
