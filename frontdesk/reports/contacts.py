"""Contacts: a conversation's stretch of questions, the unit the reports count as "a
conversation" (see aggregator.py for the definitions).

A contact's state is a small Redis hash per conversation, `fd:rep:contact:<id>`, that expires
CONTACT_GAP after the customer's last question: the day it started, its channel, language and
FAQ area, whether the bot answered, whether it is still contained, the handoff reason once
handed off, and what the bot did last (answered | declined | rated_no). Flags are set with
HSETNX, so an event handled twice (or in two processes) is counted once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from redis.asyncio import Redis

from frontdesk.reports.store import Batch, Dims
from frontdesk.store.util import redis_errors, text_dict

CONTACT_GAP = 4 * 3600  # seconds of quiet after which the customer's next question is a new contact
SPECIFIC_REASONS = {"topic": "topic", "complaint": "complaint", "not_understood": "bot_failed"}
REASONS = ("customer_asked", "bot_failed", "not_answered", "topic", "complaint")


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
    contained: bool
    handed: str  # the attributed reason once handed off, else ""
    last: str  # answered | declined | rated_no

    @classmethod
    def read(cls, conversation_id: str, raw: dict[str, str]) -> Contact:
        return cls(
            conversation_id,
            raw.get("day", ""),
            raw.get("channel", ""),
            raw.get("language", ""),
            raw.get("area", ""),
            raw.get("answered") == "1",
            raw.get("contained") == "1",
            raw.get("handed", ""),
            raw.get("last", ""),
        )

    @property
    def dims(self) -> Dims:
        return Dims(self.channel, self.language, self.area)


class Contacts:
    def __init__(self, redis: Redis, today: Callable[[], str]) -> None:
        self.redis = redis
        self.today = today

    async def current(
        self,
        conversation_id: str,
        channel: str,
        language: str,
        batch: Batch,
        area: str = "",
        answered: bool = False,
    ) -> tuple[Contact, bool]:
        """The conversation's current contact, started (and counted) if there is none, with
        its FAQ area set if it had none (a contact belongs to the area of its first answer, or
        of its first case) and, with answered=True, marked
        answered — all in one round trip. Also returns whether it was answered just now."""
        key = contact_key(conversation_id)
        day = self.today()
        marks = [("day", day), ("channel", channel), ("language", language)]
        if area:
            marks.append(("area", area))
        if answered:
            marks.append(("answered", "1"))
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                for name, value in marks:
                    pipe.hsetnx(key, name, value)
                pipe.hgetall(key)
                pipe.expire(key, CONTACT_GAP)
                *firsts, raw, _ = await pipe.execute()
        first = {name: bool(done) for (name, _), done in zip(marks, firsts, strict=True)}
        contact = Contact.read(conversation_id, text_dict(raw))
        if first["day"]:
            batch.add(contact.day, contact.dims, "conv")
        elif first.get("area"):
            self._moved(replace(contact, area=""), contact, batch)
        return contact, first.get("answered", False)

    @staticmethod
    def _moved(source: Contact, target: Contact, batch: Batch) -> None:
        """The contact's counts so far move from the no-area cell to its area's."""
        metrics = ["conv"]
        if source.handed:
            metrics += ["handoff", f"handoff:{source.handed}"]
        for metric in metrics:
            batch.move(source.day, source.dims, target.dims, metric)

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

    async def first(self, contact: Contact, name: str, value: str) -> bool:
        with redis_errors():
            return bool(await self.redis.hsetnx(contact_key(contact.conversation_id), name, value))

    async def hand_off(self, contact: Contact, case_reason: str, batch: Batch) -> None:
        """The contact's first request for a person (queued or a left message)."""
        reason = attribute(case_reason, contact.last)
        if contact.handed or not await self.first(contact, "handed", reason):
            return
        batch.add(contact.day, contact.dims, "handoff")
        batch.add(contact.day, contact.dims, f"handoff:{reason}")
        if contact.contained:
            batch.add(contact.day, contact.dims, "contained", -1)
            await self.set(contact, contained="0")
