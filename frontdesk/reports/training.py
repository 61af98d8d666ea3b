"""New training examples for the bot: pending until a lead accepts them, then written to ONE
file, `<bot data>/learned.yml`, in Rasa's NLU format for the FAQ retrieval intents:

    version: "3.1"
    nlu:
    - intent: billing/invoice_copy
      examples: |
        - where do i find the bill for my last order

`server.py train` trains on everything in bot/data, this file included; nothing retrains by
itself. The file is created at the first accepted example (until then the bot's inputs, and
the cached model, are unchanged). Writes are serialised (a Redis lock across gateway processes)
and atomic (a temporary file renamed over the old one), and keep every example already there.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from redis.asyncio import Redis

from frontdesk.errors import BadInput, StoreUnavailable
from frontdesk.store.util import call, redis_errors, text, text_dict

LEARNED = "learned.yml"
PENDING = "fd:train:pending"
LOCK = "fd:train:lock"
MAX_EXAMPLE = 300
KEEP_SECONDS = 180 * 86_400
HEADER = (
    'version: "3.1"\n'
    "\n"
    "# Examples a lead accepted in the console (/console/unanswered); frontdesk writes this\n"
    "# file. `python server.py train` trains on it with the rest of bot/data; nothing\n"
    "# retrains by itself.\n"
    "\n"
)


def example_key(example_id: str) -> str:
    return f"fd:train:ex:{example_id}"


def clean_example(raw: str) -> str:
    """One line of the customer's words, safe in Rasa's examples block: whitespace collapsed,
    square brackets (Rasa's entity annotation) turned into parentheses."""
    value = " ".join(raw.split()).replace("[", "(").replace("]", ")")
    return value[:MAX_EXAMPLE].strip()


def faq_answers(data_dir: Path) -> list[str]:
    """The FAQ answers the bot has (retrieval intents such as billing/invoice_copy), from
    bot/data/faq_*.yml."""
    found: set[str] = set()
    for path in sorted(data_dir.glob("faq_*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in document.get("nlu") or []:
            intent = item.get("intent") if isinstance(item, dict) else None
            if isinstance(intent, str) and "/" in intent:
                found.add(intent)
    return sorted(found)


def read_learned(path: Path) -> dict[str, list[str]]:
    if not path.is_file():
        return {}
    document: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples: dict[str, list[str]] = {}
    for item in document.get("nlu") or []:
        if not isinstance(item, dict) or not isinstance(item.get("intent"), str):
            continue
        lines = str(item.get("examples") or "").splitlines()
        found = [re.sub(r"^\s*-\s?", "", line) for line in lines if line.strip()]
        examples.setdefault(item["intent"], []).extend(found)
    return examples


def render_learned(examples: dict[str, list[str]]) -> str:
    lines = [HEADER + "nlu:"]
    for intent in sorted(examples):
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines.extend(f"    - {example}" for example in examples[intent])
    return "\n".join(lines) + "\n"


def _append_example(path: Path, intent: str, example: str) -> bool:
    """Add one example (False if it is there already), rewriting the file atomically."""
    examples = read_learned(path)
    if example in examples.get(intent, []):
        return False
    examples.setdefault(intent, []).append(example)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(render_learned(examples), encoding="utf-8")
    os.replace(temporary, path)
    return True


class Training:
    def __init__(self, redis: Redis, data_dir: Path) -> None:
        self.redis = redis
        self.data_dir = data_dir
        self.path = data_dir / LEARNED
        self._lock = asyncio.Lock()
        self._answers: tuple[float, list[str]] = (0.0, [])

    def answers(self) -> list[str]:
        """The FAQ answers an example can be attached to (re-read every minute)."""
        if time.monotonic() - self._answers[0] > 60 or not self._answers[1]:
            self._answers = (time.monotonic(), faq_answers(self.data_dir))
        return self._answers[1]

    async def add_pending(
        self, item_id: str, example: str, answer_id: str, language: str, by: str
    ) -> str:
        example = clean_example(example)
        if not example:
            raise BadInput("empty_example", "the example is empty")
        if answer_id not in self.answers():
            raise BadInput("unknown_answer", f"the bot has no FAQ answer {answer_id!r}")
        example_id = uuid.uuid4().hex
        now = time.time()
        fields = {
            "id": example_id,
            "item_id": item_id,
            "text": example,
            "answer_id": answer_id,
            "language": language,
            "by": by,
            "at": f"{now:.3f}",
            "status": "pending",
        }
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(example_key(example_id), mapping=fields)  # type: ignore[arg-type]
                pipe.expire(example_key(example_id), KEEP_SECONDS)
                pipe.zadd(PENDING, {example_id: now})
                await pipe.execute()
        return example_id

    async def pending(self) -> list[dict[str, str]]:
        ids = [text(i) for i in await call(self.redis.zrange(PENDING, 0, -1))]
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for example_id in ids:
                    pipe.hgetall(example_key(example_id))
                rows = await pipe.execute()
        return [text_dict(row) for row in rows if row]

    async def get(self, example_id: str) -> dict[str, str]:
        return text_dict(await call(self.redis.hgetall(example_key(example_id))))

    async def _take(self, example_id: str) -> dict[str, str]:
        """Remove an example from the pending list (once: a second click finds nothing)."""
        if not await call(self.redis.zrem(PENDING, example_id)):
            raise BadInput("not_pending", "that example is no longer pending")
        return await self.get(example_id)

    async def accept(self, example_id: str, by: str) -> dict[str, str]:
        example = await self._take(example_id)
        async with self._file_lock():
            written = await asyncio.to_thread(
                _append_example, self.path, example["answer_id"], example["text"]
            )
        status = {"status": "accepted" if written else "duplicate", "decided_by": by}
        await call(self.redis.hset(example_key(example_id), mapping=status))  # type: ignore[arg-type]
        return {**example, **status}

    async def reject(self, example_id: str, by: str) -> dict[str, str]:
        example = await self._take(example_id)
        status = {"status": "rejected", "decided_by": by}
        await call(self.redis.hset(example_key(example_id), mapping=status))  # type: ignore[arg-type]
        return {**example, **status}

    async def forget_items(self, item_ids: list[str]) -> int:
        """Drop the pending examples made from these messages (their customer is erased)."""
        wanted = set(item_ids)
        gone = [p["id"] for p in await self.pending() if p.get("item_id") in wanted]
        for example_id in gone:
            await call(self.redis.zrem(PENDING, example_id))
            await call(self.redis.delete(example_key(example_id)))
        return len(gone)

    def learned(self) -> dict[str, list[str]]:
        return read_learned(self.path)

    @asynccontextmanager
    async def _file_lock(self) -> AsyncIterator[None]:
        """One writer of learned.yml at a time, in this process and across processes."""
        token = uuid.uuid4().hex
        async with self._lock:
            deadline = time.monotonic() + 10
            while not await call(self.redis.set(LOCK, token, nx=True, px=15_000)):
                if time.monotonic() > deadline:
                    raise StoreUnavailable("learned.yml is being written by another process")
                await asyncio.sleep(0.05)
            try:
                yield
            finally:
                if text(await call(self.redis.get(LOCK)) or b"") == token:
                    await call(self.redis.delete(LOCK))
