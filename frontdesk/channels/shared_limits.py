"""The widget's limits per client address and per conversation, held across gateway processes
(issue 21) through Redis, without a Redis round trip per message.

- Connections (open at once, and new ones a second) and new conversations per address are rare
  next to messages: each is decided by one script call in Redis (`admit`, `take`), atomically,
  so two processes racing for an address's last slot cannot both get it. Each process also
  writes how many connections it has open per address (a hash per address, a field per
  process) and says it is alive (`fd:limits:procs`, a sorted set of expiry times); the counts
  of a process that stopped saying so (killed) stop counting within PROCESS_TTL.
- Messages (per address and per conversation) are taken from local token buckets, as before:
  a few dictionary look-ups. Every SYNC_EVERY seconds one pipeline reconciles every bucket that
  was used or is not full: the tokens this process took since the last time are subtracted
  from the bucket of the same key in Redis (refilled there at the same rate), and the local
  bucket takes the global level (minus what it took meanwhile). A local bucket therefore knows
  what the other processes took, at most SYNC_EVERY seconds late.

The bound, written down: with N processes, an address (or conversation) of rate r and burst b
is admitted at any moment at most (N-1)·(b + r·S) messages more than one process alone would
admit (S = SYNC_EVERY): each other process can spend its local view, b at most, plus what it
refills, before hearing of the rest. The debt is paid back (the shared bucket may go down to
-b), so over a long span the rate is r, whatever N. With one client address on one process
(nginx `ip_hash`), it is exact, as before. Redis down: every limit falls back to the process's
own counts (each process a limit of its own, as in issue 20), and says so in the log.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from frontdesk.store.batched import BatchedScript

if TYPE_CHECKING:
    from frontdesk.channels.address_limits import AddressLimits

log = logging.getLogger(__name__)

SYNC_EVERY = 1.0  # seconds between reconciliations of the local buckets
PROCESS_TTL = 5.0  # seconds a process's connection counts last without a sync
REPUBLISH_EVERY = 10  # syncs between full rewrites of this process's open connections
PUBLISH_SOON = 0.05  # seconds from a connection's opening or closing to its count in Redis
PREFIX = "fd:limits"
PROCS = f"{PREFIX}:procs"
MESSAGES_PER_ADDRESS = "msg:addr"  # the kind of the address's message buckets
RECENT = 10.0  # seconds a bucket used here is still reconciled after it is full again

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Take one token from a bucket hash {t: tokens, s: stamp ms}; returns the ms to wait (0: taken).
_TAKE = """
local function take(key, rate, burst, now)
  if rate <= 0 then return 0 end
  local state = redis.call('HMGET', key, 't', 's')
  local tokens = tonumber(state[1]) or burst
  local stamp = tonumber(state[2]) or now
  if now > stamp then tokens = math.min(burst, tokens + (now - stamp) * rate / 1000) end
  if tokens < 1 then return math.ceil((1 - tokens) * 1000 / rate) end
  redis.call('HSET', key, 't', tostring(tokens - 1), 's', string.format('%d', now))
  redis.call('PEXPIRE', key, math.ceil(burst * 2000 / rate) + 5000)
  return 0
end
"""

# KEYS: the address's open-connection hash, the processes' sorted set, its connection bucket.
# ARGV: most open at once (0: any), rate, burst, this process, ms to wait when all are open,
# this process's connections from the address with this one (its field is set to that),
# KEYS[4] the address's message bucket, ARGV[7] its rate (0: none), ARGV[8] its burst.
# Returns {ms to wait (0: admitted), the message bucket's level in thousandths or 'none'}: a
# client that moves to another process brings its address's spent budget along.
_ADMIT = (
    _NOW
    + _TAKE
    + """
local most = tonumber(ARGV[1])
if most > 0 then
  local open = tonumber(ARGV[6])
  local fields = redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    if fields[i] ~= ARGV[4] then
      if tonumber(redis.call('ZSCORE', KEYS[2], fields[i]) or '0') < now then
        redis.call('HDEL', KEYS[1], fields[i])
      else
        open = open + tonumber(fields[i + 1])
      end
    end
  end
  if open > most then return {tonumber(ARGV[5]), 'none'} end
end
local wait = take(KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]), now)
if wait > 0 then return {wait, 'none'} end
if most > 0 then redis.call('HSET', KEYS[1], ARGV[4], ARGV[6]) end
local rate, burst = tonumber(ARGV[7]), tonumber(ARGV[8])
local state = redis.call('HMGET', KEYS[4], 't', 's')
if rate <= 0 or not state[1] then return {0, 'none'} end
local tokens, stamp = tonumber(state[1]), tonumber(state[2])
if now > stamp then tokens = math.min(burst, tokens + (now - stamp) * rate / 1000) end
return {0, math.floor(tokens * 1000)}
"""
)

# KEYS[1] a bucket; ARGV rate, burst. Returns the ms to wait (0: taken).
_TAKE_ONE = _NOW + _TAKE + "return take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now)"

# KEYS[1] a bucket; ARGV rate, burst. Returns its level in thousandths, or 'none'.
_LEVEL = (
    _NOW
    + """
local state = redis.call('HMGET', KEYS[1], 't', 's')
if not state[1] then return 'none' end
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens, stamp = tonumber(state[1]), tonumber(state[2])
if now > stamp then tokens = math.min(burst, tokens + (now - stamp) * rate / 1000) end
return math.floor(tokens * 1000)
"""
)

# KEYS: buckets; ARGV[1] rate, ARGV[2] burst, ARGV[2 + i] tokens taken locally from KEYS[i].
# Returns every bucket's level after taking them (in thousandths); it may go down to -burst.
_SYNC = (
    _NOW
    + """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local ttl = math.ceil(burst * 2000 / rate) + 5000
local out = {}
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 't', 's')
  local tokens = tonumber(state[1]) or burst
  local stamp = tonumber(state[2]) or now
  if now > stamp then tokens = math.min(burst, tokens + (now - stamp) * rate / 1000) end
  tokens = math.max(-burst, tokens - tonumber(ARGV[2 + i]))
  redis.call('HSET', key, 't', tostring(tokens), 's', string.format('%d', now))
  redis.call('PEXPIRE', key, ttl)
  out[i] = math.floor(tokens * 1000)
end
return out
"""
)

# KEYS[1] the processes' sorted set; ARGV this process, its ttl ms.
_ALIVE = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600000)
return 0
"""
)


class TokenBucket:
    __slots__ = ("burst", "quiet_until", "rate", "refusals", "stamp", "tokens", "used")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now
        self.quiet_until = 0.0  # no "slow down" notice to a stock client before then
        self.refusals = 0  # in a row (a connection's bucket)
        self.used = 0  # tokens taken since the last reconciliation through Redis

    def take(self) -> None:
        self.tokens -= 1
        self.used += 1

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until a token is there (0: there is one now); after refill()."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def full_at(self) -> float:
        return self.stamp + (self.burst - self.tokens) / self.rate

    def idle(self, now: float) -> bool:
        """Full again and nothing left to reconcile: as good as new, so it may be forgotten."""
        return self.full_at() <= now and not self.used and self.quiet_until <= now


@dataclass
class BucketGroup:
    """Local buckets of one kind (e.g. messages per address) shared through Redis."""

    kind: str
    rate: float
    burst: int
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def key(self, name: str) -> str:
        return f"{PREFIX}:{self.kind}:{name}"


class SharedLimits:
    """One process's link to the counts in Redis (see the module's docstring)."""

    def __init__(self, redis: Redis, process_id: str | None = None) -> None:
        self.redis = redis
        self.process_id = process_id or uuid.uuid4().hex
        self.groups: list[BucketGroup] = []
        # a connection and a new conversation each: under a reconnect storm, many in a turn
        self._admit = BatchedScript(redis, _ADMIT)
        self._take = BatchedScript(redis, _TAKE_ONE)
        self._sync = redis.register_script(_SYNC)
        self._alive = redis.register_script(_ALIVE)
        self._level = redis.register_script(_LEVEL)
        self._dirty: set[str] = set()  # addresses whose open count changed since the last sync
        self._syncs = 0
        self._open_counts: Callable[[], dict[str, int]] | None = None  # while running
        self._soon: asyncio.Task[None] | None = None  # the open counts' next write
        self._down = False  # Redis failing: limits are this process's own until it answers

    def share(self, group: BucketGroup) -> None:
        self.groups.append(group)

    def changed(self, address: str) -> None:
        """An address's open connections here changed: written to Redis in PUBLISH_SOON
        seconds (with the others' changed meanwhile), so a place freed here is free for the
        other processes at once."""
        self._dirty.add(address)
        if self._soon is None and self._open_counts is not None:
            self._soon = asyncio.get_running_loop().create_task(self._publish_soon())

    async def _publish_soon(self) -> None:
        await asyncio.sleep(PUBLISH_SOON)
        self._soon = None
        if self._open_counts is None or not self._dirty:
            return
        addresses, counts = set(self._dirty), self._open_counts()
        self._dirty.clear()
        pipe = self.redis.pipeline(transaction=False)
        self._write_open(pipe, addresses, counts)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            self._dirty |= addresses
            self._failing(exc)

    def _write_open(self, pipe: Any, addresses: set[str], counts: dict[str, int]) -> None:
        for address in addresses:
            key, count = f"{PREFIX}:open:{address}", counts.get(address, 0)
            if count > 0:
                pipe.hset(key, self.process_id, count)
            else:
                pipe.hdel(key, self.process_id)

    async def admit(
        self, address: str, mine: int, limits: AddressLimits, full_wait: float
    ) -> tuple[float, float | None] | None:
        """A new connection from `address`, this process's `mine`-th from it: the seconds to
        wait (0: admitted, this process's count written) and the address's shared message
        bucket's level (None: none); None when Redis cannot say (the caller decides alone)."""
        keys = [f"{PREFIX}:open:{address}", PROCS, f"{PREFIX}:conn:{address}"]
        keys.append(f"{PREFIX}:{MESSAGES_PER_ADDRESS}:{address}")
        rate, messages, ms = limits.connections, limits.messages, math.ceil(full_wait * 1000)
        args: list[Any] = [limits.max_connections, rate.per_second, rate.burst]
        args += [self.process_id, ms, mine, messages.per_second, messages.burst]
        try:
            wait, level = await self._admit(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self._failing(exc)
            return None
        self._recovered()
        return int(wait) / 1000, None if level in (b"none", "none") else int(level) / 1000

    async def take(self, kind: str, name: str, rate: float, burst: int) -> float | None:
        """One token of a shared bucket (new conversations): 0, the seconds to wait, or None
        when Redis cannot say."""
        return await self._ms(self._take(keys=[f"{PREFIX}:{kind}:{name}"], args=[rate, burst]))

    async def level(self, group: BucketGroup, name: str) -> float | None:
        """A shared bucket's level now (None: none, or Redis cannot say)."""
        try:
            level = await self._level(keys=[group.key(name)], args=[group.rate, group.burst])
        except (RedisError, OSError) as exc:
            self._failing(exc)
            return None
        self._recovered()
        return None if level in (b"none", "none") else int(level) / 1000

    async def _ms(self, call: Any) -> float | None:
        try:
            result = int(await call) / 1000
        except (RedisError, OSError) as exc:
            self._failing(exc)
            return None
        self._recovered()
        return result

    async def run(self, open_counts: Callable[[], dict[str, int]]) -> None:
        """Reconcile every SYNC_EVERY seconds until cancelled. `open_counts()`: this process's
        open connections (and those admitted, not yet open) per address."""
        self._open_counts = open_counts
        while True:
            try:
                await self.sync(open_counts())
            except Exception:
                log.exception("limits per address: reconciling failed")
            await asyncio.sleep(SYNC_EVERY)

    async def sync(self, open_counts: dict[str, int]) -> None:
        """One pipeline: alive, open connections of the addresses that changed (all of them
        now and then), and the used buckets of every group."""
        self._syncs += 1
        full = self._syncs % REPUBLISH_EVERY == 1
        addresses = set(open_counts) | self._dirty if full else set(self._dirty)
        self._dirty.clear()
        pipe = self.redis.pipeline(transaction=False)
        ttl = math.ceil(PROCESS_TTL * 1000)
        await self._alive(keys=[PROCS], args=[self.process_id, ttl], client=pipe)  # queued
        self._write_open(pipe, addresses, open_counts)
        batches: list[tuple[BucketGroup, list[tuple[str, TokenBucket]]]] = []
        for group in self.groups:
            recent = time.monotonic() - RECENT
            active = [
                (n, b)
                for n, b in group.buckets.items()
                if b.used or b.tokens < b.burst or b.stamp > recent
            ]
            if not active:
                continue
            args: list[Any] = [group.rate, group.burst, *(b.used for _, b in active)]
            for _, bucket in active:
                bucket.used = 0
            keys = [group.key(name) for name, _ in active]
            await self._sync(keys=keys, args=args, client=pipe)  # queued
            batches.append((group, active))
        try:
            results = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._dirty |= addresses
            self._failing(exc)
            return
        self._recovered()
        levels = results[-len(batches) :] if batches else []
        now = time.monotonic()
        for (_, active), level in zip(batches, levels, strict=True):
            for (_, bucket), shared in zip(active, level, strict=True):
                # The global level, less what this process took while the sync was on its way.
                bucket.tokens = min(bucket.burst, int(shared) / 1000 - bucket.used)
                bucket.stamp = now

    async def leave(self) -> None:
        """At shutdown: this process's counts stop counting at once."""
        self._open_counts = None
        if self._soon is not None:
            self._soon.cancel()
        try:
            await self.redis.zrem(PROCS, self.process_id)
        except (RedisError, OSError) as exc:
            log.warning("limits: could not say this process is leaving: %s", exc)

    def _failing(self, exc: Exception) -> None:
        if not self._down:
            log.warning(
                "limits per address: Redis unavailable (%s); counting in this process alone", exc
            )
        self._down = True

    def _recovered(self) -> None:
        if self._down:
            log.warning("limits per address: Redis is back; counting across processes again")
        self._down = False
