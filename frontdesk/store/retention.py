"""How long customers' data is kept, and erasing a customer on request.

Two rules (issue 11: every session_request used to leave a conversation forever):

- **Empty conversations expire.** A conversation opened without a customer message (a widget
  that was loaded and never used) gets a TTL of EMPTY_CONVERSATION_TTL (default 24 h) on all its
  keys when it is created; the append script makes them permanent at the first customer entry
  (RedisStore: _CREATE, _APPEND). Redis removes the rest by itself.
- **Closed conversations are kept RETENTION_DAYS** (default 365) after their last activity (last
  transcript entry, creation, any case time), then removed with their cases, notes and index
  entries by `Retention.sweep`: hourly in each gateway (one process per hour does the work) and
  on demand with `server.py customers sweep`. A conversation waiting in the queue, with an
  agent, or with a left message not yet answered is never removed, however old.

Why a sweep rather than TTLs refreshed on activity: a conversation is spread over keys that
cannot expire as one (its hash, transcript and client ids, its cases and their notes) and over
members of shared indexes (the queue, the left messages, the closed cases, agents' sets,
customers' case lists, the e-mail index) that cannot expire at all; TTLs would leave dangling
index entries, would need refreshing on every write in several modules, and could expire a
customer still waiting. A sweep reads the state before it deletes, deletes only if nothing was
written meanwhile (a Lua check of the transcript length and state), and cleans every index. It
scans `fd:conv:{*` once an hour: O(conversations), fine for a help desk's volume, and it needs
no extra index written on the hot path. The sweep also keeps the e-mail index honest: it adds
addresses stored before the index existed and drops entries of conversations that expired.

`Retention.forget` is the right to erasure (`server.py customers forget <id | e-mail>`).
The Rasa server keeps its own tracker of each conversation (by the same id); erasing it there
is Rasa's tracker store's business, not the gateway's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from frontdesk.errors import FrontdeskError, StoreUnavailable
from frontdesk.store.cases import CaseStore
from frontdesk.store.redis import ConversationRecord, RedisStore, email_key, emails_in

log = logging.getLogger(__name__)

DAY = 24 * 3600
SWEEP_EVERY = 3600.0  # seconds between sweeps
FIRST_SWEEP_AFTER = 60.0  # after start-up, so a restart loop does not sweep in a loop
ACTIVE_STATES = ("queued", "agent")  # conversation and case states never swept


class CustomerActive(FrontdeskError):
    """`customers forget` of a customer who is waiting or with an agent, without --force."""


@dataclass(frozen=True)
class StoredCustomer:
    """What is stored of one conversation: its record and its cases (with notes counts)."""

    record: ConversationRecord
    cases: list[dict[str, str]]

    @property
    def active(self) -> bool:
        return self.record.fields.get("state") in ACTIVE_STATES or any(
            case.get("state") in ACTIVE_STATES for case in self.cases
        )

    @property
    def last_activity(self) -> float:
        """The latest moment anything happened (0 when nothing is dated)."""
        moments = [self.record.last_activity]
        for case in self.cases:
            for name, value in case.items():
                if name.endswith("_at"):
                    with contextlib.suppress(ValueError):
                        moments.append(float(value))
        return max(moments)

    @property
    def emails(self) -> set[str]:
        found = set(self.record.emails)
        for case in self.cases:
            found |= emails_in(case)
        return found


@dataclass(frozen=True)
class Erased:
    conversation_id: str
    removed: list[str]  # keys deleted and index entries removed
    cases: int


@dataclass
class SweepReport:
    removed: list[Erased] = field(default_factory=list)
    expired: int = 0  # empty conversations stored before they got a TTL
    active: int = 0  # old but waiting or with an agent: kept
    undated: int = 0  # nothing in it says when: kept
    orphan_cases: int = 0  # closed cases whose conversation was already gone
    indexed: int = 0  # addresses added to the e-mail index (stored before it existed)
    pruned: int = 0  # e-mail index entries of conversations that are gone

    def summary(self, days: int) -> str:
        kept = f"kept {self.active} old but active, {self.undated} undated"
        index = f"e-mail index: {self.indexed} added, {self.pruned} stale removed"
        if days <= 0:
            return f"retention is off (RETENTION_DAYS=0): nothing removed; {index}"
        return (
            f"removed {len(self.removed)} conversation(s) older than {days} days "
            f"({sum(e.cases for e in self.removed)} case(s), {self.orphan_cases} orphan "
            f"case(s)) and {self.expired} old empty one(s); {kept}; {index}"
        )


# What other parts keep of a customer (the reports' "could not answer" words, an unsent
# e-mail answer): erased with the conversation. Called with the conversation id and its case
# ids; returns descriptions of what it removed.
Eraser = Callable[[str, list[str]], Awaitable[list[str]]]


class Retention:
    def __init__(
        self,
        store: RedisStore,
        cases: CaseStore,
        retention_days: int,
        erasers: Sequence[Eraser] = (),
    ) -> None:
        self.store = store
        self.cases = cases
        self.retention_days = retention_days
        self.erasers = tuple(erasers)

    async def stored(self, conversation_id: str) -> StoredCustomer:
        record = await self.store.conversation_record(conversation_id)
        return StoredCustomer(record, await self.cases.cases_of(conversation_id))

    async def find(self, target: str) -> list[StoredCustomer]:
        """The conversations of a conversation id, or of an e-mail address (any conversation
        whose fields or cases carried it)."""
        ids = set(await self.store.conversations_with_email(target)) if "@" in target else set()
        ids.add(target)
        found = [await self.stored(conversation_id) for conversation_id in sorted(ids)]
        return [c for c in found if c.record.exists or c.cases or c.record.indexed]

    async def forget(self, target: str, force: bool = False) -> list[Erased]:
        """Erase everything stored of a conversation id or an e-mail address's conversations:
        conversation keys, cases, notes and every index entry. Refuses (CustomerActive) a
        customer waiting or with an agent unless `force`."""
        found = await self.find(target)
        busy = [c.record.id for c in found if c.active]
        if busy and not force:
            raise CustomerActive(
                f"{', '.join(busy)} is waiting or with an agent right now; close or cancel it "
                "first, or pass --force"
            )
        _, parts = await self.store.scan_conversations()
        erased = [await self._erase(customer, parts) for customer in found]
        if "@" in target and await self.store.drop_email_index(target) and erased:
            # entries of conversations already gone (an empty one that expired) go too
            erased[-1].removed.append(email_key(target))
        return erased

    async def _erase(
        self, customer: StoredCustomer, parts: set[str], guard: bool = False
    ) -> Erased:
        conversation_id = customer.record.id
        removed = await self.store.delete_conversation(
            conversation_id, parts, if_messages=customer.record.messages if guard else None
        )
        if guard and not removed:
            return Erased(conversation_id, [], 0)
        case_ids = [str(case["id"]) for case in customer.cases if case.get("id")]
        for eraser in self.erasers:
            removed += await eraser(conversation_id, case_ids)
        removed += await self.cases.delete_cases_of(conversation_id)
        removed += await self.store.unindex_emails(conversation_id, customer.emails)
        return Erased(conversation_id, removed, len(customer.cases))

    async def sweep(self, now: float | None = None) -> SweepReport:
        """Remove conversations (and their cases) whose last activity is older than the
        retention period; never one that is waiting or with an agent."""
        now = time.time() if now is None else now
        report = SweepReport()
        cutoff = now - self.retention_days * DAY if self.retention_days > 0 else None
        ids, parts = await self.store.scan_conversations()
        for conversation_id in sorted(ids):
            customer = await self.stored(conversation_id)
            missing = customer.emails - customer.record.indexed
            if missing:
                await self.store.index_emails(conversation_id, missing)
                report.indexed += len(missing)
            if self._empty_and_old(customer, now):  # stored before empty ones had a TTL
                if (await self._erase(customer, parts, guard=True)).removed:
                    report.expired += 1
                continue
            if cutoff is None or customer.record.expires_in is not None:
                continue  # retention off, or empty: it expires by itself
            last = customer.last_activity
            if last >= cutoff:
                continue
            if customer.active:
                report.active += 1
            elif last <= 0:
                report.undated += 1
            else:
                erased = await self._erase(customer, parts, guard=True)
                if erased.removed:
                    report.removed.append(erased)
        if cutoff is not None:
            report.orphan_cases = await self._orphan_cases(cutoff)
        report.pruned = await self.store.prune_email_index()
        return report

    def _empty_and_old(self, customer: StoredCustomer, now: float) -> bool:
        record, ttl = customer.record, self.store.empty_ttl
        return (
            ttl > 0
            and record.messages == 0
            and not customer.cases
            and record.expires_in is None
            and 0 < record.last_activity < now - ttl
        )

    async def _orphan_cases(self, cutoff: float) -> int:
        """Closed cases past retention whose conversation is already gone."""
        removed = 0
        for case_id in await self.cases.closed_before(cutoff):
            case = await self.cases.get(case_id)
            conversation_id = case.get("conversation_id", "")
            if conversation_id and (await self.store.conversation_record(conversation_id)).exists:
                continue
            if case.get("state") in ACTIVE_STATES:
                continue
            await self.cases.delete_case(case_id)
            if conversation_id:
                await self.store.unindex_emails(conversation_id, emails_in(case))
            removed += 1
        return removed

    async def run(self, every: float = SWEEP_EVERY, first_after: float = FIRST_SWEEP_AFTER) -> None:
        """Sweep every `every` seconds, forever; with several gateway processes, one of them
        sweeps each time (the others find the turn taken)."""
        await asyncio.sleep(first_after)
        while True:
            try:
                if await self.store.first_time("retention", "sweep", max(int(every * 0.9), 1)):
                    report = await self.sweep()
                    log.info("retention sweep: %s", report.summary(self.retention_days))
            except StoreUnavailable as exc:
                log.warning("retention sweep: %s", exc)
            except Exception:
                log.exception("retention sweep failed")
            await asyncio.sleep(every)
