"""Rasa's Redis ticket lock, with tickets that expire only when whoever holds one is gone.

Rasa 3.6's RedisLockStore queues a conversation's messages with numbered tickets, each
expiring TICKET_LOCK_LIFETIME seconds after it was issued, so that a Rasa killed mid-turn
cannot hold the conversation forever. Two defects of its ticket lock (rasa/core/lock.py and
lock_store.py) stop a turn for good when a Rasa dies holding a ticket:

- A waiting ticket expires too. The dead holder's ticket (issued at T) and the waiter's
  (issued at T + d, when the gateway sent the turn to the other Rasa) expire d seconds apart;
  the waiter looks once a second, and when it misses that window both are gone, the queue is
  empty, `now_serving` is 0 and the waiter's ticket (1) is "behind 1 other item" forever:
  the turn waits until the gateway gives up (tests/test_cluster_locks.py shows it).
- Every change is read, changed in Python and written back: two processes changing one
  conversation's lock at once lose one change (a ticket issued, or deleted with the key by
  the other's clean-up, which then fails the turn with "Could not acquire lock").

Here a ticket is kept alive by the process that holds or waits for it (its expiry is moved
forward while the process lives, up to MAX_HOLD for a holder), so only a dead process's ticket
expires, TICKET_LOCK_LIFETIME seconds after its process stopped renewing it. A waiter is served
once no live ticket older than its own is left; a ticket lost with a Redis failover is put
back in its place. Numbers keep increasing when the queue empties (the issue time in µs), so a
lost ticket can never share its number with a newer one. Each change is one transaction
(WATCH / MULTI) retried while Redis fails over. The keys and their JSON are Rasa's, so
a stock RedisLockStore reading them still works.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from rasa.core.constants import DEFAULT_LOCK_LIFETIME
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from redis.backoff import ExponentialBackoff
from redis.client import Pipeline
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError
from redis.retry import Retry

logger = logging.getLogger(__name__)

T = TypeVar("T")

FAILOVER_ATTEMPTS = 12  # tries of one change while Redis fails over (about 8 s in all)
MAX_HOLD = float(DEFAULT_LOCK_LIFETIME)  # seconds a live holder keeps its ticket at most
BEATS_PER_LIFETIME = 3  # renewals of a ticket within one lifetime


class LiveTicketLockStore(RedisLockStore):
    """RedisLockStore (`self.red` is any Redis client) whose tickets live while their process
    does. Drop-in: `type: stores.locks.LiveTicketLockStore` takes RedisLockStore's options."""

    def __init__(self, endpoint_config: Any = None, **options: Any) -> None:
        if endpoint_config is not None:  # loaded from an endpoints file
            options = {"host": endpoint_config.url, **endpoint_config.kwargs, **options}
        options.pop("type", None)
        super().__init__(**options)

    # --- one atomic change of a conversation's lock ---------------------------------------
    def _change(self, conversation_id: str, change: Callable[[TicketLock], T]) -> T:
        """Read the lock, apply `change` and write it back in one transaction (another
        process's write in between makes it read again); an empty queue deletes the key."""
        key = self.key_prefix + conversation_id

        def apply(pipe: Pipeline) -> T:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            lock = lock or TicketLock(conversation_id)
            lock.remove_expired_tickets()
            result = change(lock)
            pipe.multi()
            if lock.tickets:
                pipe.set(key, lock.dumps())
            else:
                pipe.delete(key)
            return result

        retry = Retry(
            ExponentialBackoff(cap=1.0, base=0.1),
            FAILOVER_ATTEMPTS,
            supported_errors=(ConnectionError, TimeoutError, ReadOnlyError),
        )
        return retry.call_with_retry(
            lambda: self.red.transaction(apply, key, value_from_callable=True),
            lambda error: logger.debug("lock store: %s; trying again", error),
        )

    # --- the ticket's life ------------------------------------------------------------------
    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """A new ticket at the end of the queue; its number is above every number issued
        before, even when the queue was empty (then it is the time in µs)."""

        def issue(lock: TicketLock) -> int:
            number = max(lock.last_issued + 1, time.time_ns() // 1000)
            lock.tickets.append(Ticket(number, time.time() + lock_lifetime))
            return number

        logger.debug(f"Issuing ticket for conversation '{conversation_id}'.")
        try:
            return self._change(conversation_id, issue)
        except Exception as e:
            raise LockError(f"Error while acquiring lock. Error:\n{e}") from e

    def renew(
        self, conversation_id: str, ticket: int, lock_lifetime: float
    ) -> tuple[int, TicketLock]:
        """Move the ticket's expiry `lock_lifetime` ahead (putting it back in its place if
        Redis lost it); how many live tickets are before it, and the lock."""

        def keep(lock: TicketLock) -> tuple[int, TicketLock]:
            expires = time.time() + lock_lifetime
            mine = next((t for t in lock.tickets if t.number == ticket), None)
            if mine is None:
                logger.debug(f"Ticket {ticket} of '{conversation_id}' was gone: put back.")
                mine = Ticket(ticket, expires)
                lock.tickets.append(mine)
                lock.tickets = type(lock.tickets)(sorted(lock.tickets, key=lambda t: t.number))
            mine.expires = max(mine.expires, expires)
            return sum(1 for t in lock.tickets if t.number < ticket), lock

        return self._change(conversation_id, keep)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket; the key goes with the last one (in the same transaction, so a
        ticket another process issues meanwhile is never deleted with it)."""
        self.finish_serving(conversation_id, ticket_number)

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, lambda lock: None)

    # --- waiting and holding ----------------------------------------------------------------
    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Wait for the conversation's turn, then hold it; the ticket is renewed all along."""
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            held = await self._wait_turn(
                conversation_id, ticket, lock_lifetime, wait_time_in_seconds
            )
            keeper = asyncio.ensure_future(self._keep(conversation_id, ticket, lock_lifetime))
            try:
                yield held
            finally:
                keeper.cancel()
        finally:
            self.cleanup(conversation_id, ticket)

    async def _wait_turn(
        self, conversation_id: str, ticket: int, lifetime: float, wait: float
    ) -> TicketLock:
        logger.debug(f"Acquiring lock for conversation '{conversation_id}'.")
        step = max(0.05, min(wait, lifetime / BEATS_PER_LIFETIME))
        while True:
            ahead, lock = self.renew(conversation_id, ticket, lifetime)
            if not ahead:
                logger.debug(f"Acquired lock for conversation '{conversation_id}'.")
                return lock
            logger.debug(
                f"Failed to acquire lock for conversation ID '{conversation_id}' "
                f"because {ahead} other item(s) for this conversation ID have to be "
                f"finished processing first. Retrying in {step} seconds ..."
            )
            await asyncio.sleep(step)

    async def _keep(self, conversation_id: str, ticket: int, lifetime: float) -> None:
        """While the turn runs (MAX_HOLD at most): renew the ticket a few times a lifetime."""
        until = time.monotonic() + MAX_HOLD
        beat = lifetime / BEATS_PER_LIFETIME
        while time.monotonic() + beat < until:
            await asyncio.sleep(beat)
            try:
                self.renew(conversation_id, ticket, lifetime)
            except Exception as e:  # Redis away for longer: the turn goes on, unrenewed
                logger.warning(f"Could not renew the lock of '{conversation_id}': {e}")
