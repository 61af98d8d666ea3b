"""Rasa's Redis tracker store and lock store, on Redis behind Sentinel.

Rasa 3.6 Open Source's RedisTrackerStore and RedisLockStore connect to one host and port; after
a Sentinel failover they keep talking to the old primary (gone, or a read-only replica). These
subclasses keep Rasa's behaviour (keys, serialisation, expiry) and change where the connection
goes: to the primary the sentinels name, asked again whenever a connection is (re)made, so a
failover needs no restart. A command that meets the failover (connection refused, or READONLY
from a demoted primary) is retried with a short backoff while the sentinels promote the
replica. The lock store's tickets also live exactly as long as their process does
(stores/locks.py: Rasa's own could leave a turn waiting forever behind a killed Rasa).

bot/endpoints.sentinel.yml configures them:

    tracker_store:
      type: stores.sentinel.SentinelTrackerStore
      sentinels: ${REDIS_SENTINELS}          # host:port,host:port,...
      master: ${REDIS_SENTINEL_MASTER}
      db: 2
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Text

from rasa.core.lock_store import DEFAULT_SOCKET_TIMEOUT_IN_SECONDS
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig
from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel

from stores.locks import LiveTicketLockStore

logger = logging.getLogger(__name__)

FAILOVER_ATTEMPTS = 12  # retries of one command; with the backoff below about 8 s in all
SENTINEL_TIMEOUT = 1.0  # seconds to ask one sentinel before asking the next


def parse_sentinels(raw: Any) -> list[tuple[str, int]]:
    """`host:port,host:port` (or a YAML list of them) as (host, port) pairs."""
    parts = raw if isinstance(raw, list) else str(raw or "").split(",")
    sentinels = []
    for part in (str(p).strip() for p in parts):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                f"sentinels must be host:port pairs separated by commas, got {part!r}"
            )
        sentinels.append((host.strip("[]"), int(port)))
    if not sentinels:
        raise ValueError("sentinels lists no sentinel (set REDIS_SENTINELS)")
    return sentinels


def primary(
    sentinels: Any,
    master: Optional[Text],
    db: int,
    password: Optional[Text] = None,
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
    decode_responses: bool = False,
) -> Redis:
    """A client of the primary the sentinels name for `master`."""
    if not master:
        raise ValueError("master names no monitored Redis (set REDIS_SENTINEL_MASTER)")
    asking = {"socket_timeout": SENTINEL_TIMEOUT, "socket_connect_timeout": SENTINEL_TIMEOUT}
    sentinel = Sentinel(parse_sentinels(sentinels), sentinel_kwargs=asking)
    retry = Retry(ExponentialBackoff(cap=1.0, base=0.1), FAILOVER_ATTEMPTS)
    return sentinel.master_for(
        master,
        db=int(db),
        password=password,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        decode_responses=decode_responses,
        retry=retry,
        retry_on_error=[ConnectionError, TimeoutError, ReadOnlyError],
    )


class SentinelTrackerStore(RedisTrackerStore):
    """RedisTrackerStore whose Redis is the primary behind Sentinel."""

    def __init__(
        self,
        domain: Domain,
        host: Optional[Text] = None,
        sentinels: Any = None,
        master: Optional[Text] = None,
        db: int = 0,
        password: Optional[Text] = None,
        socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_IN_SECONDS,
        **kwargs: Any,
    ) -> None:
        # Rasa's constructor makes a client of localhost (it connects lazily: never used).
        super().__init__(domain, db=int(db), **kwargs)
        self.red = primary(sentinels, master, db, password, socket_timeout, True)
        logger.info("tracker store: Redis primary %r via sentinels %s", master, sentinels)


class SentinelLockStore(LiveTicketLockStore):
    """Rasa's Redis lock store on the primary behind Sentinel, its tickets kept alive while
    their process lives (stores/locks.py: a Rasa killed holding a conversation's ticket
    stops that conversation for TICKET_LOCK_LIFETIME seconds, never for good)."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        options = dict(endpoint_config.kwargs)
        timeout = float(options.get("socket_timeout", DEFAULT_SOCKET_TIMEOUT_IN_SECONDS))
        super().__init__(key_prefix=options.get("key_prefix"), socket_timeout=timeout)
        self.red = primary(
            options.get("sentinels"),
            options.get("master"),
            int(options.get("db", 1)),
            options.get("password"),
            timeout,
        )
        logger.info("lock store: Redis primary %r via sentinels", options.get("master"))
