"""Limits per client address (issue 20), held across gateway processes once attached to Redis
(issue 21, frontdesk.channels.shared_limits): what one address may open and send. The
decisions on a message are made in frontdesk.channels.ratelimit."""

from __future__ import annotations

import time
from dataclasses import dataclass

from frontdesk.channels.shared_limits import (
    MESSAGES_PER_ADDRESS,
    BucketGroup,
    SharedLimits,
    TokenBucket,
)

PURGE_EVERY = 60.0  # seconds between sweeps of idle buckets
CONNECTION_RETRY = 5.0  # seconds to wait when an address has all the connections it may open
ADMITTED_FOR = 10.0  # seconds a connection admitted but never opened still counts


@dataclass(frozen=True)
class Rate:
    per_second: float = 0.0  # 0: no limit
    burst: int = 1


@dataclass(frozen=True)
class AddressLimits:
    """What one client address may do (0: no limit). The defaults let about a hundred people
    behind one address (an office, a shop's Wi-Fi, a mobile carrier's shared address) chat at
    once, and all reconnect at once after a restart; a client alone gets no further."""

    max_connections: int = 200  # open at once
    connections: Rate = Rate(20.0, 200)  # new connections
    conversations: Rate = Rate(2.0, 100)  # new conversations (session_request)
    messages: Rate = Rate(10.0, 100)  # customer messages

    @property
    def off(self) -> bool:
        return not (
            self.max_connections
            or self.connections.per_second
            or self.conversations.per_second
            or self.messages.per_second
        )


NO_ADDRESS_LIMITS = AddressLimits(0, Rate(), Rate(), Rate())


class AddressLimiter:
    """The per-address counts of one gateway process, shared with the others once attached
    to Redis (see the module's docstring)."""

    def __init__(self, limits: AddressLimits) -> None:
        self.limits = limits
        self._open: dict[str, int] = {}  # address -> connections open
        self._keys: dict[str, str] = {}  # engine.io sid -> address
        self._admitted: dict[str, list[float]] = {}  # address -> admitted, not open yet
        self._buckets: tuple[dict[str, TokenBucket], ...] = ({}, {}, {})
        self._purged = time.monotonic()
        self.shared: SharedLimits | None = None
        self.groups: list[BucketGroup] = []  # message buckets reconciled through Redis
        rate = limits.messages
        if rate.per_second > 0:
            group = BucketGroup(MESSAGES_PER_ADDRESS, rate.per_second, rate.burst, self._buckets[2])
            self.groups.append(group)

    def attach(self, shared: SharedLimits) -> None:
        """From now on the limits hold across every process attached to the same Redis."""
        self.shared = shared
        for group in self.groups:
            shared.share(group)

    def share(self, group: BucketGroup) -> None:
        """Message buckets of another kind (per conversation) to reconcile through Redis."""
        self.groups.append(group)
        if self.shared is not None:
            self.shared.share(group)

    async def admit(self, address: str) -> float:
        """Before a new connection's handshake: 0 (admitted, counted as open from now on), or
        the seconds to wait. Across processes once attached; this process alone otherwise."""
        limits, shared = self.limits, self.shared
        if shared is None or not (limits.max_connections or limits.connections.per_second):
            return self.connect(address)
        self._admit(address)  # counted before asking, so a sync meanwhile cannot undercount
        mine = self._open.get(address, 0) + len(self._admitted.get(address, ()))
        answer = await shared.admit(address, mine, limits, CONNECTION_RETRY)
        if answer is None:  # Redis cannot say: this process decides alone
            self._unadmit(address)
            wait = self.connect(address)
            if not wait:
                self._admit(address)
            return wait
        wait, level = answer
        if wait:
            self._unadmit(address)
        elif level is not None:  # what the address spent on other processes counts here too
            now = time.monotonic()
            bucket = self._bucket(2, limits.messages, address, now)
            bucket.tokens = min(bucket.tokens, level)
        return wait

    async def open_conversation(self, address: str) -> float:
        """A new conversation from `address`: 0 (a token taken), or the seconds to wait."""
        rate = self.limits.conversations
        if rate.per_second <= 0:
            return 0.0
        if self.shared is not None:
            wait = await self.shared.take("conv:addr", address, rate.per_second, rate.burst)
            if wait is not None:
                return wait
        return self.new_conversation(address)

    def open_counts(self) -> dict[str, int]:
        """Connections open or admitted (in the last ADMITTED_FOR seconds) per address."""
        counts = dict(self._open)
        stale = time.monotonic() - ADMITTED_FOR
        for address, times in list(self._admitted.items()):
            fresh = [t for t in times if t > stale]
            if len(fresh) != len(times):
                self._set_admitted(address, fresh)
            if fresh:
                counts[address] = counts.get(address, 0) + len(fresh)
        return counts

    def _admit(self, address: str) -> None:
        self._set_admitted(address, [*self._admitted.get(address, ()), time.monotonic()])

    def _unadmit(self, address: str) -> None:
        self._set_admitted(address, self._admitted.get(address, [])[1:])

    def _set_admitted(self, address: str, times: list[float]) -> None:
        if times:
            self._admitted[address] = times
        else:
            self._admitted.pop(address, None)
        if self.shared is not None:
            self.shared.changed(address)

    def connect(self, address: str, now: float | None = None) -> float:
        """Before a new connection's handshake: 0 and a token taken, or the seconds to wait
        (nothing taken)."""
        limits = self.limits
        if limits.max_connections and self._open.get(address, 0) >= limits.max_connections:
            return CONNECTION_RETRY
        return self._take(0, limits.connections, address, now)

    def new_conversation(self, address: str, now: float | None = None) -> float:
        return self._take(1, self.limits.conversations, address, now)

    def message_wait(self, address: str, now: float) -> tuple[TokenBucket | None, float]:
        """The address's message bucket (None: no limit) and the seconds until it has a
        token (nothing taken: check() takes it with the others')."""
        rate = self.limits.messages
        if rate.per_second <= 0:
            return None, 0.0
        bucket = self._bucket(2, rate, address, now)
        return bucket, bucket.wait()

    def opened(self, key: str, address: str) -> None:
        """A connection (its engine.io sid) is open."""
        if key not in self._keys:
            self._keys[key] = address
            self._open[address] = self._open.get(address, 0) + 1
            if address in self._admitted:
                self._unadmit(address)  # now counted as open
            elif self.shared is not None:
                self.shared.changed(address)

    def closed(self, key: str) -> None:
        address = self._keys.pop(key, None)
        if address is None:
            return
        left = self._open.get(address, 0) - 1
        if left > 0:
            self._open[address] = left
        else:
            self._open.pop(address, None)
        if self.shared is not None:
            self.shared.changed(address)

    def open_connections(self, address: str) -> int:
        return self._open.get(address, 0)

    def _take(self, which: int, rate: Rate, address: str, now: float | None) -> float:
        if rate.per_second <= 0:
            return 0.0
        bucket = self._bucket(which, rate, address, time.monotonic() if now is None else now)
        wait = bucket.wait()
        if not wait:
            bucket.take()
        return wait

    def _bucket(self, which: int, rate: Rate, address: str, now: float) -> TokenBucket:
        if now - self._purged > PURGE_EVERY:
            self._purged = now
            for buckets in self._buckets:
                for key in [k for k, b in buckets.items() if b.idle(now)]:
                    del buckets[key]
        buckets = self._buckets[which]
        bucket = buckets.get(address)
        if bucket is None:
            bucket = buckets[address] = TokenBucket(rate.per_second, rate.burst, now)
        else:
            bucket.refill(now)
        return bucket
