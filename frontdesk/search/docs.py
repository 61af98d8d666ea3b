"""Conversations read from Redis as index documents (index.Doc), many in two round trips."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence

from redis.asyncio import Redis

from frontdesk.search.index import Doc, Message
from frontdesk.store.cases import case_key, customer_cases_key
from frontdesk.store.redis import EMAIL_FIELDS, conversation_keys
from frontdesk.store.util import redis_errors, text, text_dict

# Bounded parts (an address's local part is at most 64 characters): linear in the text, where
# unbounded ones backtracked for minutes over a long run of letters without an "@".
EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}", re.UNICODE)
SAID = ("customer", "agent")  # whose words are searched (index.py says why not the bot's)
WHO = ("customer_name", "customer_id", "channel_user")


def _float(value: object) -> float:
    with contextlib.suppress(TypeError, ValueError):
        return float(str(value))
    return 0.0


def _captured(fields: Mapping[str, str]) -> list[str]:
    try:
        captured = json.loads(fields.get("captured") or "{}")
    except ValueError:
        return []
    return [str(v) for v in captured.values() if v] if isinstance(captured, dict) else []


def build(
    conversation_id: str,
    fields: Mapping[str, str],
    entries: Sequence[str],
    cases: Sequence[Mapping[str, str]],
) -> Doc | None:
    """The document of one conversation; None when nothing of it is stored any more."""
    if not fields and not entries:
        return None
    doc = Doc(conversation_id, channel=fields.get("channel") or "widget")
    doc.language = fields.get("language") or ""
    doc.state = fields.get("state") or "bot"
    doc.started = _float(fields.get("created_at"))
    found: list[str] = []
    for position, raw in enumerate(entries, start=1):  # the log's position is the seq
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        when = _float(entry.get("ts"))
        doc.last = max(doc.last, when)
        words = str(entry.get("text") or "")
        if entry.get("role") in SAID and words.strip():
            doc.messages.append(Message(position, when, entry["role"], words))
            if "@" in words:
                found += EMAIL.findall(words)
    records = [fields, *cases]
    for record in records:
        found += [record[k] for k in (*EMAIL_FIELDS, *WHO) if record.get(k)]
        found += _captured(record)
    for case in cases:
        if case.get("id"):
            doc.case_ids.append(case["id"])
        for name in ("area",):
            if case.get(name) and case[name] not in doc.areas:
                doc.areas.append(case[name])
        for name in ("agent", "answered_by"):
            if case.get(name) and case[name] not in doc.agents:
                doc.agents.append(case[name])
        for name, value in case.items():
            if name.endswith("_at"):
                doc.last = max(doc.last, _float(value))
    if fields.get("area") and fields["area"] not in doc.areas:
        doc.areas.append(fields["area"])
    doc.identifiers = list(dict.fromkeys(found))
    emails = [f for f in doc.identifiers if "@" in f]
    doc.customer = fields.get("customer_name") or (emails[0] if emails else "")
    doc.last = max(doc.last, doc.started)
    return doc


async def read(redis: Redis, conversation_ids: Iterable[str]) -> dict[str, Doc | None]:
    """Each conversation's document (None: gone)."""
    ids = list(dict.fromkeys(conversation_ids))
    if not ids:
        return {}
    with redis_errors():
        async with redis.pipeline(transaction=False) as pipe:
            for conversation_id in ids:
                hash_key, log, _, _ = conversation_keys(conversation_id)
                pipe.hgetall(hash_key)
                pipe.lrange(log, 0, -1)
                pipe.lrange(customer_cases_key(conversation_id), 0, -1)
            rows = await pipe.execute()
        case_ids = [[text(c) for c in rows[i + 2]] for i in range(0, len(rows), 3)]
        async with redis.pipeline(transaction=False) as pipe:
            for group in case_ids:
                for case_id in group:
                    pipe.hgetall(case_key(case_id))
            case_rows = iter(await pipe.execute())
    docs: dict[str, Doc | None] = {}
    for n, conversation_id in enumerate(ids):
        fields = text_dict(rows[3 * n])
        entries = [text(e) for e in rows[3 * n + 1]]
        cases = []
        for case_id in case_ids[n]:
            raw = text_dict(next(case_rows))
            if raw:
                cases.append({**raw, "id": case_id})
        docs[conversation_id] = build(conversation_id, fields, entries, cases)
    return docs


async def conversations_of_cases(redis: Redis, case_ids: Sequence[str]) -> list[str]:
    """The conversation of each case that still exists."""
    if not case_ids:
        return []
    with redis_errors():
        async with redis.pipeline(transaction=False) as pipe:
            for case_id in case_ids:
                pipe.hget(case_key(case_id), "conversation_id")
            rows = await pipe.execute()
    return [text(r) for r in rows if r]
