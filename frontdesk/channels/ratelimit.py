"""Abuse limits on customer messages: one client sending too fast must not slow the others.

Each `user_uttered` takes a token from three buckets, its connection's, its conversation's
(several tabs of one conversation share it; a client that keeps asking for new conversations
still has one connection) and its client address's (AddressLimits: a client that closes and
reopens its connection to get fresh buckets still has one address): `RATE_LIMIT_PER_SECOND`
tokens a second, up to `RATE_LIMIT_BURST` saved up, and `ADDRESS_MESSAGES_PER_SECOND` /
`ADDRESS_MESSAGE_BURST` for an address. A conversation also has at most `MAX_PENDING_TURNS`
turns accepted and not finished (the bot cannot keep up, so more would only wait). A message
over a limit is refused, not stored, with `retry_after` seconds; the client keeps it and sends
it again then. A connection that goes on sending regardless (FLOOD_REFUSALS refusals in a row)
is flooding: the channel closes it, since even refusing costs the gateway time every other
customer waits for.

`session_request` (opening or resuming a conversation, which costs Redis work and history) has
a budget of its own per connection, SESSION_REQUESTS, taken with `check_connection`, and a new
conversation also takes a token from its address's bucket (`new_conversation`); over either
the request is refused the same way, and nothing else happens. `user_typing` signals (with the
customer's draft while an agent has the conversation) have their own per-connection budget,
TYPING_SIGNALS, also taken with `check_connection`: frontdesk's widget sends at most two a
second, so the budget never refuses it; over it a signal is dropped (`rate_limited`; the next one
carries the whole draft again), and a connection that keeps sending regardless is flooding and
is closed like one that floods messages. Connections themselves are
limited per address before the Socket.IO handshake (frontdesk.channels.guard): at most
`ADDRESS_MAX_CONNECTIONS` open at once, and `ADDRESS_CONNECTIONS_PER_SECOND` new ones.

The client address is the socket's peer, or the X-Forwarded-For client when the peer is one of
TRUSTED_PROXIES (frontdesk.console.proxies), IPv6 by its /64 (frontdesk.console.throttle), so a
deployment without a proxy is protected too; a proxy's own limits stay a second line.

Where the counts live. A relayed message may cost at most 3 Redis round trips in all, and
storing it already takes them; a limit checked in Redis would add one to every message. So a
message is checked against buckets in the process's memory (a few dictionary look-ups), and
those buckets are reconciled through Redis in the background, once a second for all of them
(frontdesk.channels.shared_limits, which also writes down the bound across processes).
Connections and new conversations are rare next to messages: once the gateway has Redis
(`AddressLimiter.attach`), each is decided by one Redis script call, exactly across processes
(`admit`, `open_conversation`). Without it (unit tests, Redis down), each process counts alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from frontdesk.channels.address_limits import (
    CONNECTION_RETRY,
    NO_ADDRESS_LIMITS,
    AddressLimiter,
    AddressLimits,
    Rate,
)
from frontdesk.channels.shared_limits import BucketGroup, TokenBucket

__all__ = [
    "CONNECTION_RETRY",
    "NO_ADDRESS_LIMITS",
    "SESSION_REQUESTS",
    "TYPING_SIGNALS",
    "AddressLimiter",
    "AddressLimits",
    "Limits",
    "Rate",
    "RateLimiter",
    "TokenBucket",
]

PURGE_EVERY = 60.0  # seconds between sweeps of idle conversations' buckets
BACKLOG_RETRY = 1.0  # seconds to wait when the conversation's backlog is full
NOTICE_EVERY = 10.0  # seconds between "slow down" messages to a stock client
FLOOD_REFUSALS = 50  # refusals in a row that make a connection a flood (the widget waits)


@dataclass(frozen=True)
class Limits:
    per_second: float = 2.0  # 0: no rate limit
    burst: int = 8
    max_pending_turns: int = 10  # 0: no backlog limit


# session_request per connection: a page opens one, a "new conversation" another; 5 at once,
# then one a second.
SESSION_REQUESTS = Limits(per_second=1.0, burst=5, max_pending_turns=0)

# user_typing per connection (typing on/off, and the customer's draft while an agent has the
# conversation): the widget sends at most 2 a second; 4 a second with 10 at once leave room for
# two tabs of one page sharing nothing, and none for a flood.
TYPING_SIGNALS = Limits(per_second=4.0, burst=10, max_pending_turns=0)


class RateLimiter:
    def __init__(
        self,
        limits: Limits,
        pending: Callable[[str], int] = lambda _: 0,
        addresses: AddressLimiter | None = None,
    ) -> None:
        """`pending(conversation_id)`: the conversation's turns not answered yet (the
        router's count), for the backlog limit; `addresses`: the process's per-address
        counts (none: no per-address limit)."""
        self.limits = limits
        self.addresses = addresses
        self._connections: dict[str, TokenBucket] = {}
        self._conversations: dict[str, TokenBucket] = {}
        self._address_of: dict[str, str] = {}  # connection -> its client address
        self._pending_of = pending
        self._purged = time.monotonic()
        self._shared_conversations: BucketGroup | None = None
        if addresses is not None and limits.per_second > 0:  # a conversation's tabs, everywhere
            group = BucketGroup("msg:conv", limits.per_second, limits.burst, self._conversations)
            addresses.share(group)
            self._shared_conversations = group

    def bind(self, sid: str, address: str) -> None:
        """The connection `sid` comes from `address` (until unbind)."""
        if self.addresses is not None:
            self._address_of[sid] = address

    def unbind(self, sid: str) -> None:
        self._address_of.pop(sid, None)

    async def session(self, sid: str, conversation_id: str, resumed: bool) -> float:
        """A session_request. A new conversation takes a token from its address's bucket: 0,
        or the seconds to wait (nothing taken). A resumed one brings along what its tabs on
        other processes spent (one Redis call), then 0."""
        if not resumed:
            return await self.new_conversation(sid)
        group = self._shared_conversations
        shared = self.addresses.shared if self.addresses is not None else None
        if group is not None and shared is not None:
            level = await shared.level(group, conversation_id)
            if level is not None:
                bucket = self._bucket(self._conversations, conversation_id, time.monotonic())
                bucket.tokens = min(bucket.tokens, level)
        return 0.0

    async def new_conversation(self, sid: str) -> float:
        """For a session_request that opens a new conversation: 0 and a token taken from the
        connection's address, or the seconds to wait (nothing taken)."""
        address = self._address_of.get(sid)
        if address is None or self.addresses is None:
            return 0.0
        return await self.addresses.open_conversation(address)

    def check(self, sid: str, conversation_id: str, now: float | None = None) -> float:
        """0 and a token taken from every bucket (the connection's, the conversation's and
        its address's), or the seconds to wait (nothing taken)."""
        now = self._now(now)
        connection = None
        if self.limits.per_second > 0:
            connection = self._bucket(self._connections, sid, now)
        wait = self._wait(connection, conversation_id, now, self._address_of.get(sid))
        if connection is not None:
            connection.refusals = connection.refusals + 1 if wait else 0
        return wait

    def check_connection(self, sid: str, now: float | None = None) -> float:
        """For an event limited per connection only (session_request, user_typing): 0 and a
        token taken, or the seconds to wait (nothing taken; refusals in a row count towards
        `flooding`)."""
        if self.limits.per_second <= 0:
            return 0.0
        now = self._now(now)
        bucket = self._bucket(self._connections, sid, now)
        wait = bucket.wait()
        if not wait:
            bucket.tokens -= 1
        bucket.refusals = bucket.refusals + 1 if wait else 0
        return wait

    def _now(self, now: float | None) -> float:
        """The time of this check; buckets filled up again are forgotten now and then."""
        now = time.monotonic() if now is None else now
        if now - self._purged > PURGE_EVERY:
            self._purge(now)
        return now

    def _wait(
        self,
        connection: TokenBucket | None,
        conversation_id: str,
        now: float,
        address: str | None,
    ) -> float:
        limits = self.limits
        if limits.max_pending_turns and self.pending(conversation_id) >= limits.max_pending_turns:
            return BACKLOG_RETRY
        if connection is None:
            return 0.0
        conversation = self._bucket(self._conversations, conversation_id, now)
        wait = max(connection.wait(), conversation.wait())
        shared = None  # the address's bucket
        if address is not None and self.addresses is not None:
            shared, shared_wait = self.addresses.message_wait(address, now)
            wait = max(wait, shared_wait)
        if wait > 0:
            return wait
        connection.tokens -= 1
        conversation.take()
        if shared is not None:
            shared.take()
        return 0.0

    def flooding(self, sid: str) -> bool:
        """The connection keeps sending while told to wait."""
        bucket = self._connections.get(sid)
        return bucket is not None and bucket.refusals >= FLOOD_REFUSALS

    def _bucket(self, buckets: dict[str, TokenBucket], key: str, now: float) -> TokenBucket:
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = TokenBucket(self.limits.per_second, self.limits.burst, now)
        else:
            bucket.refill(now)
        return bucket

    def _purge(self, now: float) -> None:
        """Forget buckets that have filled up again: as good as new (so nothing needs to be
        told that a connection closed or a conversation went quiet)."""
        self._purged = now
        for buckets in (self._connections, self._conversations):
            full = [key for key, bucket in buckets.items() if bucket.idle(now)]
            for key in full:
                del buckets[key]

    def notice_due(self, sid: str, now: float) -> bool:
        """Whether to tell a refused client why (at most once per NOTICE_EVERY seconds)."""
        bucket = self._connections.get(sid)
        if bucket is None or now < bucket.quiet_until:
            return False
        bucket.quiet_until = now + NOTICE_EVERY
        return True

    # -- the backlog of unanswered turns -----------------------------------------------------

    def pending(self, conversation_id: str) -> int:
        return self._pending_of(conversation_id)
