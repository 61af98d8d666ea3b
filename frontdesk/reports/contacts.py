"""Contacts: a conversation's stretch of questions, the unit the reports count as "a
conversation" (see aggregator.py for the definitions).

A contact's state is a small Redis hash per conversation, `fd:rep:contact:<id>`, that expires
CONTACT_GAP after the customer's last question: the day it started, its channel, language and
FAQ area, whether the bot answered, the handoff reason once handed off, and what the bot did
last (answered | declined | rated_no).

The marks that decide a count (day: the contact is new; area; answered; handed) are set once
(HSETNX, in a Lua script), and `<mark>@` records which event set each: its id, and `+` when the
mark watched was already there (answered and area watch handed; handed watches answered). So an
event handled twice, in two processes, or again after Redis went away mid-way (deferral.py)
makes the same decisions and counts once: the event that set a mark counts what it decides,
every time it is handled, and the report's write (store.py) happens once per event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from redis.asyncio import Redis

from frontdesk.reports.store import Batch, Dims
from frontdesk.store.batched import BatchedScript
from frontdesk.store.util import redis_errors, text, text_dict

CONTACT_GAP = 4 * 3600  # seconds of quiet after which the customer's next question is a new contact
SPECIFIC_REASONS = {"topic": "topic", "complaint": "complaint", "not_understood": "bot_failed"}
REASONS = ("customer_asked", "bot_failed", "not_answered", "topic", "complaint")

# The marks whose setter is recorded, and the mark each watches ("." none): whether the watched
# mark was there when this one was set is kept with the setter.
WATCHES = {"day": ".", "answered": "handed", "area": "handed", "handed": "answered"}

# KEYS[1]: the contact. ARGV[1]: seconds to keep it, ARGV[2]: the event's id, then (field,
# value, watched) triples: the field is set if it is not, and, unless watched is "", its setter
# recorded in "<field>@".
MARK = """
for i = 3, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 and ARGV[i + 2] ~= '' then
    local seen = ''
    if ARGV[i + 2] ~= '.' and redis.call('HEXISTS', KEYS[1], ARGV[i + 2]) == 1 then
      seen = '+'
    end
    redis.call('HSET', KEYS[1], ARGV[i] .. '@', ARGV[2] .. seen)
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""


def contact_key(conversation_id: str) -> str:
    return f"fd:rep:contact:{conversation_id}"


def attribute(case_reason: str, last: str) -> str:
    """The report's handoff reason from the case's reason and the bot's last outcome."""
    if case_reason in SPECIFIC_REASONS:
        return SPECIFIC_REASONS[case_reason]
    if case_reason not in ("", "customer_asked"):
        return case_reason
    if last == "rated_no":
        return "not_answered"
    if last == "declined":
        return "bot_failed"
    return "customer_asked"


@dataclass(frozen=True)
class Contact:
    conversation_id: str
    day: str
    channel: str
    language: str
    area: str
    answered: bool
    handed: str  # the attributed reason once handed off, else ""
    last: str  # answered | declined | rated_no
    setters: dict[str, str] = field(default_factory=dict)  # mark -> "<event id>[+]"

    @classmethod
    def read(cls, conversation_id: str, raw: dict[str, str]) -> Contact:
        return cls(
            conversation_id,
            raw.get("day", ""),
            raw.get("channel", ""),
            raw.get("language", ""),
            raw.get("area", ""),
            bool(raw.get("answered")),
            raw.get("handed", ""),
            raw.get("last", ""),
            {k[:-1]: v for k, v in raw.items() if k.endswith("@")},
        )

    def mine(self, mark: str, event_id: str) -> bool:
        """Whether this event set the mark (now, or when it was handled before)."""
        return self.setters.get(mark, "").rstrip("+") == event_id

    def saw(self, mark: str) -> bool:
        """Whether the mark it watches was there when this mark was set."""
        return self.setters.get(mark, "").endswith("+")

    @property
    def dims(self) -> Dims:
        return Dims(self.channel, self.language, self.area)


class Contacts:
    def __init__(self, redis: Redis, today: Callable[[], str]) -> None:
        self.redis = redis
        self.today = today
        self._mark = BatchedScript(redis, MARK)  # every bot turn and session: batched

    async def mark(
        self, conversation_id: str, event_id: str, marks: list[tuple[str, str]]
    ) -> Contact:
        """Set the marks not yet set, recording this event as their setter; the contact after."""
        args: list[str | int] = [CONTACT_GAP, event_id]
        for name, value in marks:
            args += [name, value, WATCHES.get(name, "")]
        with redis_errors():
            raw = await self._mark(keys=[contact_key(conversation_id)], args=args)
        pairs = [text(v) for v in raw]
        return Contact.read(conversation_id, dict(zip(pairs[::2], pairs[1::2], strict=True)))

    async def current(
        self,
        conversation_id: str,
        channel: str,
        language: str,
        batch: Batch,
        event_id: str,
        area: str = "",
        answered: bool = False,
    ) -> tuple[Contact, bool]:
        """The conversation's current contact, started (and counted) if there is none, with
        its FAQ area set if it had none (a contact belongs to the area of its first answer, or
        of its first case) and, with answered=True, marked
        answered — all in one round trip. Also returns whether it was answered by this event."""
        marks = [("day", self.today()), ("channel", channel), ("language", language)]
        if area:
            marks.append(("area", area))
        if answered:
            marks.append(("answered", "1"))
        contact = await self.mark(conversation_id, event_id, marks)
        if contact.mine("day", event_id):
            batch.add(contact.day, contact.dims, "conv")
        elif area and contact.mine("area", event_id):
            self._moved(contact, batch)
        return contact, answered and contact.mine("answered", event_id)

    @staticmethod
    def _moved(contact: Contact, batch: Batch) -> None:
        """The contact's counts so far move from the no-area cell to its area's."""
        metrics = ["conv"]
        if contact.handed and contact.saw("area"):
            metrics += ["handoff", f"handoff:{contact.handed}"]
        for metric in metrics:
            batch.move(contact.day, replace(contact, area="").dims, contact.dims, metric)

    async def forget(self, conversation_id: str) -> None:
        with redis_errors():
            await self.redis.delete(contact_key(conversation_id))

    async def existing(self, conversation_id: str) -> Contact | None:
        key = contact_key(conversation_id)
        with redis_errors():
            raw = text_dict(await self.redis.hgetall(key))
        return Contact.read(conversation_id, raw) if raw.get("day") else None

    async def set(self, contact: Contact, **fields: str) -> None:
        key = contact_key(contact.conversation_id)
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(key, mapping=dict(fields))  # type: ignore[arg-type]
                pipe.expire(key, CONTACT_GAP)
                await pipe.execute()

    async def hand_off(
        self, contact: Contact, case_reason: str, batch: Batch, event_id: str
    ) -> None:
        """The contact's first request for a person (queued or a left message). A contact
        counted as contained (answered before any handoff) no longer is."""
        if contact.handed and not contact.mine("handed", event_id):
            return
        reason = attribute(case_reason, contact.last)
        marked = await self.mark(contact.conversation_id, event_id, [("handed", reason)])
        if not marked.mine("handed", event_id):
            return
        batch.add(contact.day, contact.dims, "handoff")
        batch.add(contact.day, contact.dims, f"handoff:{marked.handed}")
        if marked.saw("handed"):
            batch.add(contact.day, contact.dims, "contained", -1)
