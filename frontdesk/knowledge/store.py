"""Where the knowledge lives, in Redis, so every gateway process and every machine sees the
same draft, the same published versions and the same live texts:

- ``fd:kb:draft``: hash answer id -> answer JSON (the draft being edited, shared by the leads);
- ``fd:kb:versions``: list of version records (number, who, when, what changed, model);
- ``fd:kb:v:<n>``: a version's answers (zlib-compressed JSON), kept for ever (rollback);
- ``fd:kb:live``: the live version's number;
- ``fd:kb:model:<key>``: a trained model's bytes (~10 MB), so a machine without the file
  restores it into its models directory;
- ``fd:kb:texts`` / ``fd:kb:questions``: ``<answer id>|<language>`` -> the live text and
  "Did you mean…?" question the gateway relays, with ``fd:kb:texts:rev`` bumped on change;
- ``fd:kb:job``: the background job (training, publishing) and its progress.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from frontdesk.knowledge.answers import LANGUAGES, Answer
from frontdesk.store.util import call, redis_errors, text, text_dict

DRAFT = "fd:kb:draft"
VERSIONS = "fd:kb:versions"
LIVE = "fd:kb:live"
TEXTS = "fd:kb:texts"
QUESTIONS = "fd:kb:questions"
TEXTS_REV = "fd:kb:texts:rev"
JOB = "fd:kb:job"
JOB_LOCK = "fd:kb:job:lock"
LEARNED = "fd:kb:learned"
SWAPPING = "fd:kb:swapping"


def version_key(number: int) -> str:
    return f"fd:kb:v:{number}"


def model_key(key: str) -> str:
    return f"fd:kb:model:{key}"


@dataclass
class Version:
    number: int
    by: str
    at: float
    note: str
    changes: list[str] = field(default_factory=list)
    model: str = ""  # the model file's name (knowledge-<key>.tar.gz), "" for the shipped one
    understanding: str = ""  # hash of what the bot learns from (examples and answers)
    previous: int = 0  # the version live before this one (rollback goes back to it)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Version:
        data = json.loads(raw)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def pack(answers: dict[str, Answer]) -> bytes:
    data = [a.to_json() for a in answers.values()]
    return zlib.compress(json.dumps(data, ensure_ascii=False).encode())


def unpack(raw: bytes) -> dict[str, Answer]:
    return {a["id"]: Answer.from_json(a) for a in json.loads(zlib.decompress(raw))}


class KnowledgeStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    # the draft
    async def draft(self) -> dict[str, Answer]:
        raw = await call(self.redis.hgetall(DRAFT))
        answers = [Answer.from_json(json.loads(v)) for v in raw.values()]
        return {a.id: a for a in sorted(answers, key=lambda a: a.id)}

    async def save_draft(self, answers: dict[str, Answer]) -> None:
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(DRAFT)
                if answers:
                    pipe.hset(DRAFT, mapping={k: _dump(a) for k, a in answers.items()})
                await pipe.execute()

    async def put_answer(self, answer: Answer) -> None:
        await call(self.redis.hset(DRAFT, answer.id, _dump(answer)))

    async def answer(self, answer_id: str) -> Answer | None:
        raw = await call(self.redis.hget(DRAFT, answer_id))
        return Answer.from_json(json.loads(raw)) if raw else None

    # versions
    async def versions(self) -> list[Version]:
        return [Version.from_json(v) for v in await call(self.redis.lrange(VERSIONS, 0, -1))]

    async def live_number(self) -> int:
        raw = await call(self.redis.get(LIVE))
        return int(raw) if raw else 0

    async def version(self, number: int) -> Version | None:
        for version in await self.versions():
            if version.number == number:
                return version
        return None

    async def version_answers(self, number: int) -> dict[str, Answer]:
        raw = await call(self.redis.get(version_key(number)))
        return unpack(raw) if raw else {}

    async def add_version(self, version: Version, answers: dict[str, Answer]) -> None:
        """Keep a version (not live yet)."""
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(version_key(version.number), pack(answers))
                pipe.rpush(VERSIONS, json.dumps(asdict(version), ensure_ascii=False))
                await pipe.execute()

    async def next_number(self) -> int:
        versions = await self.versions()
        return max((v.number for v in versions), default=0) + 1

    async def make_live(self, number: int, answers: dict[str, Answer]) -> None:
        """The version goes live: its texts and questions are what the gateway relays."""
        texts = {f"{a.id}|{lang}": a.texts[lang] for a in answers.values() for lang in a.texts}
        questions = {
            f"{a.id}|{lang}": a.question[lang] for a in answers.values() for lang in a.question
        }
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(LIVE, number)
                if texts:  # kept for answers retired since: a turn still in flight finds them
                    pipe.hset(TEXTS, mapping=texts)  # type: ignore[arg-type]
                if questions:
                    pipe.hset(QUESTIONS, mapping=questions)  # type: ignore[arg-type]
                pipe.incr(TEXTS_REV)
                await pipe.execute()

    async def live_texts(self) -> tuple[int, dict[str, str], dict[str, str]]:
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(TEXTS_REV)
                pipe.hgetall(TEXTS)
                pipe.hgetall(QUESTIONS)
                rev, texts, questions = await pipe.execute()
        return int(rev or 0), text_dict(texts), text_dict(questions)

    async def texts_rev(self) -> int:
        return int(await call(self.redis.get(TEXTS_REV)) or 0)

    # models
    async def save_model(self, key: str, data: bytes) -> None:
        await call(self.redis.set(model_key(key), data))

    async def has_model(self, key: str) -> bool:
        return bool(await call(self.redis.exists(model_key(key))))

    async def model_bytes(self, key: str) -> bytes | None:
        raw = await call(self.redis.get(model_key(key)))
        return bytes(raw) if raw else None

    # the background job
    async def job(self) -> dict[str, str]:
        return text_dict(await call(self.redis.hgetall(JOB)))

    async def set_job(self, **fields: str) -> None:
        await call(self.redis.hset(JOB, mapping=fields))  # type: ignore[arg-type]

    async def start_job(self, token: str, kind: str, by: str, ttl: int = 900) -> bool:
        if not await call(self.redis.set(JOB_LOCK, token, nx=True, ex=ttl)):
            return False
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(JOB)
                fields = {"kind": kind, "by": by, "state": "running", "started": f"{time.time()}"}
                pipe.hset(JOB, mapping=fields)  # type: ignore[arg-type]
                await pipe.execute()
        return True

    async def end_job(self, token: str) -> None:
        if text(await call(self.redis.get(JOB_LOCK)) or b"") == token:
            await call(self.redis.delete(JOB_LOCK))

    # swapping a Rasa's model: the gateways send its conversations elsewhere meanwhile
    async def swapping(self) -> str:
        return text(await call(self.redis.get(SWAPPING)) or b"")

    async def set_swapping(self, url: str) -> None:
        if url:
            await call(self.redis.set(SWAPPING, url, ex=300))
        else:
            await call(self.redis.delete(SWAPPING))

    # the loop from "could not answer"
    async def add_learned(self, example_id: str, record: dict[str, Any]) -> None:
        await call(self.redis.hset(LEARNED, example_id, json.dumps(record, ensure_ascii=False)))

    async def learned(self) -> dict[str, dict[str, Any]]:
        raw = text_dict(await call(self.redis.hgetall(LEARNED)))
        return {k: json.loads(v) for k, v in raw.items()}


def _dump(answer: Answer) -> str:
    return json.dumps(answer.to_json(), ensure_ascii=False)


def empty_answer(answer_id: str) -> Answer:
    return Answer(answer_id, texts={}, question={}, examples={lang: [] for lang in LANGUAGES})
