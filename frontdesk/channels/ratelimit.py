"""Abuse limits on customer messages: one client sending too fast must not slow the others.

Each `user_uttered` takes a token from two buckets, its connection's and its conversation's
(several tabs of one conversation share the second; a client that keeps asking for new
conversations still has one connection): `RATE_LIMIT_PER_SECOND` tokens a second, up to
`RATE_LIMIT_BURST` saved up. A conversation also has at most `MAX_PENDING_TURNS` turns accepted
and not finished (the bot cannot keep up, so more would only wait). A message over a limit is
refused, not stored, with `retry_after` seconds; the client keeps it and sends it again then.
A connection that goes on sending regardless (FLOOD_REFUSALS refusals in a row) is flooding:
the channel closes it, since even refusing costs the gateway time every other customer waits
for. The limits are per gateway process (customers are spread over processes).

`session_request` (opening or resuming a conversation, which costs Redis work and history) has
a budget of its own per connection, SESSION_REQUESTS, taken with `check_connection`; over it the
request is refused the same way, and nothing else happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

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


class TokenBucket:
    __slots__ = ("burst", "quiet_until", "rate", "refusals", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now
        self.quiet_until = 0.0  # no "slow down" notice to a stock client before then
        self.refusals = 0  # in a row (a connection's bucket)

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until a token is there (0: there is one now); after refill()."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def full_at(self) -> float:
        return self.stamp + (self.burst - self.tokens) / self.rate


class RateLimiter:
    def __init__(self, limits: Limits, pending: Callable[[str], int] = lambda _: 0) -> None:
        """`pending(conversation_id)`: the conversation's turns not answered yet (the
        router's count), for the backlog limit."""
        self.limits = limits
        self._connections: dict[str, TokenBucket] = {}
        self._conversations: dict[str, TokenBucket] = {}
        self._pending_of = pending
        self._purged = time.monotonic()

    def check(self, sid: str, conversation_id: str, now: float | None = None) -> float:
        """0 and a token taken from both buckets, or the seconds to wait (nothing taken)."""
        now = self._now(now)
        connection = None
        if self.limits.per_second > 0:
            connection = self._bucket(self._connections, sid, now)
        wait = self._wait(connection, conversation_id, now)
        if connection is not None:
            connection.refusals = connection.refusals + 1 if wait else 0
        return wait

    def check_connection(self, sid: str, now: float | None = None) -> float:
        """For an event limited per connection only (session_request): 0 and a token taken,
        or the seconds to wait (nothing taken)."""
        if self.limits.per_second <= 0:
            return 0.0
        now = self._now(now)
        bucket = self._bucket(self._connections, sid, now)
        wait = bucket.wait()
        if not wait:
            bucket.tokens -= 1
        return wait

    def _now(self, now: float | None) -> float:
        """The time of this check; buckets filled up again are forgotten now and then."""
        now = time.monotonic() if now is None else now
        if now - self._purged > PURGE_EVERY:
            self._purge(now)
        return now

    def _wait(self, connection: TokenBucket | None, conversation_id: str, now: float) -> float:
        limits = self.limits
        if limits.max_pending_turns and self.pending(conversation_id) >= limits.max_pending_turns:
            return BACKLOG_RETRY
        if connection is None:
            return 0.0
        conversation = self._bucket(self._conversations, conversation_id, now)
        wait = max(connection.wait(), conversation.wait())
        if wait > 0:
            return wait
        connection.tokens -= 1
        conversation.tokens -= 1
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
            full = [
                key
                for key, bucket in buckets.items()
                if bucket.full_at() <= now and bucket.quiet_until <= now
            ]
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
