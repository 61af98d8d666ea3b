"""The e-mail outbox (answers to left messages) and the one-click satisfaction tokens, in Redis.

An answer waits in the outbox until the SMTP server took it: its content is a hash named after
its case (one answer per case), `fd:mail:due` orders the answers to try by the time of their
next try, and `fd:mail:open` lists every answer not delivered yet (due, being sent, or failed
for good until an agent retries it), so nothing is lost silently. A sender takes due answers
with a lease (their next try moves past the lease), so two gateway processes never send the
same answer at once, and an answer whose sender died is tried again when the lease runs out.

A satisfaction token is a key consumed on use (GETDEL): the first click counts, later ones
find only the "used" marker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from frontdesk.store.util import call, redis_errors, text, text_dict

DUE = "fd:mail:due"  # case id -> time of the next try
OPEN = "fd:mail:open"  # case id -> time the answer was written (every undelivered answer)

# KEYS: due; ARGV: now, lease until, how many
_TAKE_DUE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
"""


def mail_key(case_id: str) -> str:
    return f"fd:mail:{case_id}"


def token_key(nonce: str) -> str:
    return f"fd:feedback:{nonce}"


def used_token_key(nonce: str) -> str:
    return f"fd:feedback:used:{nonce}"


class MailStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._take_due = redis.register_script(_TAKE_DUE)

    # -- the outbox -------------------------------------------------------------------------------

    async def enqueue(self, case_id: str, fields: Mapping[str, str], now: float) -> None:
        """An answer to send as soon as possible (replacing an earlier one of the case)."""
        mapping: dict[Any, Any] = dict(fields)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(mail_key(case_id))
                pipe.hset(mail_key(case_id), mapping=mapping)
                pipe.zadd(DUE, {case_id: now})
                pipe.zadd(OPEN, {case_id: now})
                await pipe.execute()

    async def get(self, case_id: str) -> dict[str, str]:
        return text_dict(await call(self.redis.hgetall(mail_key(case_id))))

    async def take_due(self, now: float, lease_seconds: float, limit: int = 10) -> list[str]:
        """Answers whose try is due, leased to the caller for lease_seconds."""
        args: list[str | float | int] = [now, now + lease_seconds, limit]
        rows = await call(self._take_due(keys=[DUE], args=args))
        return [text(r) for r in rows]

    async def next_due(self) -> float | None:
        rows = await call(self.redis.zrange(DUE, 0, 0, withscores=True))
        return float(rows[0][1]) if rows else None

    async def update(self, case_id: str, fields: Mapping[str, str]) -> None:
        mapping: dict[Any, Any] = dict(fields)
        await call(self.redis.hset(mail_key(case_id), mapping=mapping))

    async def retry_at(self, case_id: str, at: float, fields: Mapping[str, str]) -> None:
        mapping: dict[Any, Any] = dict(fields)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(mail_key(case_id), mapping=mapping)
                pipe.zadd(DUE, {case_id: at})
                await pipe.execute()

    async def hold(self, case_id: str, fields: Mapping[str, str]) -> None:
        """A try failed for good: no more tries until an agent asks (it stays undelivered)."""
        mapping: dict[Any, Any] = dict(fields)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(mail_key(case_id), mapping=mapping)
                pipe.zrem(DUE, case_id)
                await pipe.execute()

    async def delivered(self, case_id: str) -> None:
        """The SMTP server took it: the answer leaves the outbox (the transcript keeps it)."""
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(mail_key(case_id))
                pipe.zrem(DUE, case_id)
                pipe.zrem(OPEN, case_id)
                await pipe.execute()

    async def forget(self, case_id: str) -> list[str]:
        """Erasure: an answer not delivered yet holds the customer's address and words."""
        if not await call(self.redis.exists(mail_key(case_id))):
            return []
        await self.delivered(case_id)  # the same keys go
        return [mail_key(case_id)]

    async def retry_now(self, case_id: str, now: float) -> bool:
        """Try an undelivered answer again now; False if there is none for the case."""
        if await call(self.redis.zscore(OPEN, case_id)) is None:
            return False
        await call(self.redis.zadd(DUE, {case_id: now}))
        return True

    async def undelivered(self) -> list[str]:
        """Every answer not delivered yet, oldest first."""
        return [text(r) for r in await call(self.redis.zrange(OPEN, 0, -1))]

    # -- satisfaction tokens ----------------------------------------------------------------------

    async def issue_token(self, nonce: str, value: str, ttl_seconds: int) -> None:
        await call(self.redis.set(token_key(nonce), value, ex=ttl_seconds))

    async def redeem_token(self, nonce: str, ttl_seconds: int) -> str | None:
        """The token's value, once: the key is consumed (GETDEL), a "used" marker remains."""
        value = await call(self.redis.getdel(token_key(nonce)))
        if value is None:
            return None
        await call(self.redis.set(used_token_key(nonce), value, ex=ttl_seconds))
        return text(value)

    async def peek_token(self, nonce: str) -> str | None:
        """The token's value without consuming it (None when used, expired or unknown)."""
        value = await call(self.redis.get(token_key(nonce)))
        return None if value is None else text(value)

    async def used_token(self, nonce: str) -> str | None:
        value = await call(self.redis.get(used_token_key(nonce)))
        return None if value is None else text(value)
