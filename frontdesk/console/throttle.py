"""Failed console logins, throttled per user name and per client address, with state in Redis
(so every gateway process sees the same counts).

An attempt is counted when it starts, atomically with the check, so parallel guesses cannot slip
past the limit while their passwords are being hashed; a login that succeeds takes its own
attempt back and clears its user name's record. Once a name (or an address, counting every name
tried from it) reaches its limit within the window, it is locked for `lockout`; each further
attempt in the window locks it again for twice as long, up to `max_lockout`. Attempts refused
during a lockout are not counted and do not extend it: every lockout ends at a time fixed when
it began, so nobody can keep a real agent out by hammering their name.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from frontdesk.config import Settings
from frontdesk.store.util import call

# KEYS: name fails, name lock, address fails, address lock.
# ARGV: window ms, first lockout ms, longest lockout ms, name limit, address limit, attempt id.
# A fails key is a sorted set of attempt times; a lock key a hash {strikes, until, by}.
# Returns the ms either is still locked for (nothing counted), or 0: the attempt may proceed.
_BEGIN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, base, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait = 0
for i = 2, 4, 2 do
  local ends = tonumber(redis.call('HGET', KEYS[i], 'until') or '0')
  if ends - now > wait then wait = ends - now end
end
if wait > 0 then return wait end
for n = 1, 2 do
  local fails, lock, limit = KEYS[2 * n - 1], KEYS[2 * n], tonumber(ARGV[3 + n])
  redis.call('ZREMRANGEBYSCORE', fails, '-inf', string.format('%d', now - window))
  redis.call('ZADD', fails, string.format('%d', now), ARGV[6])
  redis.call('PEXPIRE', fails, ARGV[1])
  if redis.call('ZCARD', fails) >= limit then
    local strikes = redis.call('HINCRBY', lock, 'strikes', 1)
    local lockout = math.floor(math.min(base * 2 ^ (math.min(strikes, 40) - 1), cap))
    redis.call('HSET', lock, 'until', string.format('%d', now + lockout), 'by', ARGV[6])
    redis.call('PEXPIRE', lock, string.format('%d', window + lockout))
  end
end
return 0
"""

# A login succeeded: forget the name's record; take the attempt back from the address, and the
# address lockout too if this very attempt started it (its passwords were right after all).
# KEYS as for _BEGIN; ARGV: attempt id.
_SUCCEEDED = """
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('HGET', KEYS[4], 'by') == ARGV[1] then
  if redis.call('HINCRBY', KEYS[4], 'strikes', -1) <= 0 then
    redis.call('DEL', KEYS[4])
  else
    redis.call('HDEL', KEYS[4], 'until', 'by')
  end
end
return 1
"""


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5  # per user name, within the window
    max_failures_per_address: int = 20  # per client address, all names together
    window: float = 900.0  # seconds
    lockout: float = 30.0  # the first lockout, in seconds; doubled for each further failure
    max_lockout: float = 900.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        return cls(
            max_failures=settings.login_max_failures,
            max_failures_per_address=settings.login_max_failures_per_address,
            window=settings.login_failure_window,
            lockout=settings.login_lockout,
            max_lockout=settings.login_max_lockout,
        )


@dataclass(frozen=True)
class Attempt:
    keys: tuple[str, str, str, str]
    attempt_id: str
    wait: float = 0.0  # seconds until another attempt is allowed; 0: this one may proceed

    @property
    def refused(self) -> bool:
        return self.wait > 0


@functools.lru_cache(maxsize=4096)  # asked on every connection and login: parsing costs
def address_key(address: str | None) -> str:
    """The throttle's bucket for a client address: an IPv6 client counts by its /64 (one
    subscriber's share; it could otherwise hop through billions of addresses)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "other"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginThrottle:
    def __init__(self, redis: Redis, policy: ThrottlePolicy) -> None:
        self.policy = policy
        self._begin = redis.register_script(_BEGIN)
        self._succeeded = redis.register_script(_SUCCEEDED)

    async def begin(self, name: str, address: str | None) -> Attempt:
        """Count an attempt for this name from this address, or refuse it (nothing counted)
        while either is locked out."""
        digest = hashlib.sha256(name.encode()).hexdigest()[:32]  # any length, any characters
        where = address_key(address)
        keys = (
            f"fd:login:name:{digest}:fails",
            f"fd:login:name:{digest}:lock",
            f"fd:login:addr:{where}:fails",
            f"fd:login:addr:{where}:lock",
        )
        attempt_id = uuid.uuid4().hex
        policy = self.policy
        args: list[str | int] = [
            math.ceil(policy.window * 1000),
            math.ceil(policy.lockout * 1000),
            math.ceil(policy.max_lockout * 1000),
            policy.max_failures,
            policy.max_failures_per_address,
            attempt_id,
        ]
        result = await call(self._begin(keys=list(keys), args=args))
        return Attempt(keys, attempt_id, wait=int(result) / 1000)

    async def succeeded(self, attempt: Attempt) -> None:
        await call(self._succeeded(keys=list(attempt.keys), args=[attempt.attempt_id]))


def retry_text(seconds: float) -> str:
    """'try again in 30 seconds' / 'in 2 minutes' (rounded up: never sooner than true)."""
    if seconds < 60:
        n, unit = max(1, math.ceil(seconds)), "second"
    else:
        n, unit = math.ceil(seconds / 60), "minute"
    return f"try again in {n} {unit}{'' if n == 1 else 's'}"
