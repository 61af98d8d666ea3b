"""What the bot could not answer: customer messages it declined (did not understand, or was
not sure) and those whose answer the customer rated "no, that didn't answer it".

Each becomes an *item* (`fd:unans:<id>`, one per customer message) that a lead deals with once:

- **attach** it to an existing FAQ answer: its words (which the lead may edit, e.g. to remove
  an order number) become a *pending* training example (training.py); accepting writes it to
  bot/data/learned.yml, rejecting puts the message back in the list;
- mark it **out of scope** (the bot is right not to answer it);
- note a **missing answer** (the FAQ lacks one): it moves to the "missing answers" list with
  the lead's note, until someone marks that done.

Open items are kept newest first (at most MAX_OPEN); every item expires after KEEP_DAYS, and
`forget(conversation_id)` removes a customer's items (they hold the customer's words).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from redis.asyncio import Redis

from frontdesk.errors import BadInput
from frontdesk.reports.similar import group
from frontdesk.reports.training import Training
from frontdesk.store.util import call, redis_errors, text, text_dict

OPEN = "fd:unans:open"
MISSING = "fd:unans:missing"
MAX_OPEN = 2000
KEEP_DAYS = 90
LIST_LIMIT = 500
MAX_TEXT = 1000
MAX_NOTE = 500
WHY = {
    "not_understood": "did not understand",
    "unsure": "not sure of its answer",
    "rated_no": "answer rated “didn't answer it”",
}


def item_key(item_id: str) -> str:
    return f"fd:unans:{item_id}"


def conversation_items_key(conversation_id: str) -> str:
    return f"fd:unans:conv:{conversation_id}"


def item_id_of(conversation_id: str, seq: int) -> str:
    return hashlib.sha256(f"{conversation_id}\0{seq}".encode()).hexdigest()[:20]


class Unanswered:
    def __init__(self, redis: Redis, training: Training) -> None:
        self.redis = redis
        self.training = training
        self.keep_seconds = KEEP_DAYS * 86_400

    async def add(
        self,
        conversation_id: str,
        seq: int,
        text: str,
        guess: str,
        confidence: float,
        why: str,
        channel: str,
        language: str,
    ) -> None:
        words = text.strip()[:MAX_TEXT]
        if not words:
            return
        item_id = item_id_of(conversation_id, seq)
        now = time.time()
        fields = {
            "id": item_id,
            "conversation_id": conversation_id,
            "seq": str(seq),
            "text": words,
            "guess": guess,
            "confidence": f"{confidence:.3f}",
            "why": why,
            "channel": channel,
            "language": language,
            "at": f"{now:.3f}",
            "status": "open",
        }
        key = item_key(item_id)
        if await call(self.redis.hexists(key, "status")):
            return  # this message is listed already (perhaps dealt with)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
                pipe.expire(key, self.keep_seconds)
                pipe.zadd(OPEN, {item_id: now})
                pipe.sadd(conversation_items_key(conversation_id), item_id)
                pipe.expire(conversation_items_key(conversation_id), self.keep_seconds)
                pipe.zrange(OPEN, 0, -MAX_OPEN - 1)  # the oldest beyond MAX_OPEN
                *_, dropped = await pipe.execute()
        if dropped:
            await call(self.redis.zrem(OPEN, *dropped))

    async def _items(self, index: str, limit: int) -> list[dict[str, str]]:
        ids = [text(i) for i in await call(self.redis.zrevrange(index, 0, limit - 1))]
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for item_id in ids:
                    pipe.hgetall(item_key(item_id))
                rows = await pipe.execute()
        gone = [item_id for item_id, row in zip(ids, rows, strict=True) if not row]
        if gone:  # expired (or forgotten): drop them from the index
            await call(self.redis.zrem(index, *gone))
        return [text_dict(row) for row in rows if row]

    async def open_groups(self, limit: int = LIST_LIMIT) -> list[list[dict[str, str]]]:
        """Open items, newest first, in groups of similar wording (largest groups first)."""
        items = await self._items(OPEN, limit)
        groups = group(items, lambda item: item.get("text", ""))
        return sorted(groups, key=lambda g: -len(g))

    async def missing(self, limit: int = LIST_LIMIT) -> list[dict[str, str]]:
        return await self._items(MISSING, limit)

    async def get(self, item_id: str) -> dict[str, str]:
        return text_dict(await call(self.redis.hgetall(item_key(item_id))))

    async def _decide(self, item_id: str, status: str, fields: dict[str, Any]) -> dict[str, str]:
        """Take an open item out of the list (once: a second click finds nothing to do)."""
        if not await call(self.redis.zrem(OPEN, item_id)):
            raise BadInput("not_open", "that message has been dealt with already")
        item = await self.get(item_id)
        if not item:
            raise BadInput("not_open", "that message is no longer kept")
        written: dict[Any, Any] = {**fields, "status": status}
        await call(self.redis.hset(item_key(item_id), mapping=written))
        return {**item, **fields, "status": status}

    async def attach(self, item_id: str, answer_id: str, words: str, by: str) -> str:
        """The message becomes a pending training example for an FAQ answer; its id."""
        if answer_id not in self.training.answers():
            raise BadInput("unknown_answer", f"the bot has no FAQ answer {answer_id!r}")
        item = await self._decide(item_id, "pending", {"answer_id": answer_id, "by": by})
        try:
            return await self.training.add_pending(
                item_id, words or item.get("text", ""), answer_id, item.get("language", ""), by
            )
        except BadInput:
            await self.reopen(item_id)
            raise

    async def out_of_scope(self, item_id: str, by: str) -> None:
        await self._decide(item_id, "out_of_scope", {"by": by})

    async def note_missing(self, item_id: str, note: str, by: str) -> None:
        note = " ".join(note.split())[:MAX_NOTE]
        item = await self._decide(item_id, "missing", {"note": note, "by": by})
        await call(self.redis.zadd(MISSING, {item_id: float(item.get("at") or time.time())}))

    async def missing_done(self, item_id: str, by: str) -> None:
        if not await call(self.redis.zrem(MISSING, item_id)):
            raise BadInput("not_missing", "that note is not in the list any more")
        await call(self.redis.hset(item_key(item_id), mapping={"status": "done", "by": by}))

    async def reopen(self, item_id: str) -> None:
        """Back in the list (a rejected example): a lead decides on it again."""
        item = await self.get(item_id)
        if not item:
            return
        await call(self.redis.hset(item_key(item_id), "status", "open"))
        await call(self.redis.zadd(OPEN, {item_id: float(item.get("at") or time.time())}))

    async def forget(self, conversation_id: str) -> list[str]:
        """Erase a customer's items (the right to erasure); their ids."""
        key = conversation_items_key(conversation_id)
        ids = [text(i) for i in await call(self.redis.smembers(key))]
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                for item_id in ids:
                    pipe.delete(item_key(item_id))
                    pipe.zrem(OPEN, item_id)
                    pipe.zrem(MISSING, item_id)
                pipe.delete(key)
                await pipe.execute()
        return ids
