"""The Redis implementation of the store."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from frontdesk.store.base import AppendResult, OpenResult
from frontdesk.store.batched import BatchedScript
from frontdesk.store.util import call, redis_errors, text, text_dict

# KEYS[1] transcript list, KEYS[2] client message ids -> seq, KEYS[3] conversation hash,
# KEYS[4] its e-mail addresses; ARGV[1] client id or "", ARGV[2] entry, ARGV[3] "1" if the
# customer wrote it. A conversation without a customer message carries a TTL (see _CREATE): the
# first customer entry makes all its keys permanent; other entries expire with the hash.
# `append()` returns seq, 1 if that client id was stored before (nothing written) else 0.
# Shared by _APPEND and the turn ledger's intake (frontdesk.store.turns), which stores a
# customer's message and records its turn in one step.
APPEND_FUNCTION = """
local function append()
  if ARGV[1] ~= '' then
    local seen = redis.call('HGET', KEYS[2], ARGV[1])
    if seen then return tonumber(seen), 1 end
  end
  local seq = redis.call('RPUSH', KEYS[1], ARGV[2])
  if ARGV[1] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], seq) end
  local ttl = redis.call('PTTL', KEYS[3])
  if ttl > 0 then
    if ARGV[3] == '1' then
      for i = 1, 4 do redis.call('PERSIST', KEYS[i]) end
    else
      for i = 1, 2 do redis.call('PEXPIRE', KEYS[i], ttl) end
    end
  end
  return seq, 0
end
"""
_APPEND = (
    APPEND_FUNCTION
    + """
local seq, duplicate = append()
return {seq, duplicate}
"""
)

# KEYS: hash, log, client ids, e-mails (one conversation); ARGV[1] id, ARGV[2] TTL in ms (0: none),
# ARGV[3] fields as JSON, set only where missing; ARGV[4] fields as JSON written in any case (who
# the customer is, refreshed). A new conversation with an empty transcript expires after the TTL,
# all its keys together; opening it again while it is still empty starts the TTL over.
# {1 if it was created, its fields (HGETALL), its transcript's length}: one round trip.
_OPEN = """
local created = redis.call('HSETNX', KEYS[1], 'id', ARGV[1])
for name, value in pairs(cjson.decode(ARGV[3])) do redis.call('HSETNX', KEYS[1], name, value) end
for name, value in pairs(cjson.decode(ARGV[4])) do redis.call('HSET', KEYS[1], name, value) end
local ttl = tonumber(ARGV[2])
local length = redis.call('LLEN', KEYS[2])
local fresh = created == 1 and length == 0
if ttl > 0 and (fresh or (created == 0 and redis.call('PTTL', KEYS[1]) > 0)) then
  for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ttl) end
end
return {created, redis.call('HGETALL', KEYS[1]), length}
"""

# KEYS[1] transcript list; ARGV[1] after this seq, ARGV[2] at most this many (the last ones).
# {the first entry's index, the entries}: one round trip.
_HISTORY = """
local start = math.max(tonumber(ARGV[1]), redis.call('LLEN', KEYS[1]) - tonumber(ARGV[2]))
return {start, redis.call('LRANGE', KEYS[1], start, -1)}
"""

# KEYS[1] the conversation's e-mail set, KEYS[2] its hash; ARGV addresses. The set expires with
# the hash (an empty conversation's TTL).
_INDEX = """
for i = 1, #ARGV do redis.call('SADD', KEYS[1], ARGV[i]) end
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""

# KEYS: the conversation's keys (hash first, log second); ARGV[1] expected transcript length or
# "" (no check). With a length: delete only if nobody wrote since it was read and the
# conversation is neither waiting nor with an agent (the retention sweep). The names deleted.
_DELETE = """
if ARGV[1] ~= '' then
  if redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[1]) then return {} end
  local state = redis.call('HGET', KEYS[1], 'state')
  if state == 'queued' or state == 'agent' then return {} end
end
local deleted = {}
for i = 1, #KEYS do
  if redis.call('DEL', KEYS[i]) == 1 then table.insert(deleted, KEYS[i]) end
end
return deleted
"""

# KEYS[1] conversation hash; ARGV[1] fields as JSON, ARGV[2..] allowed current states
_TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == '' then state = 'bot' end
for i = 2, #ARGV do
  if ARGV[i] == state then
    local fields = cjson.decode(ARGV[1])
    for name, value in pairs(fields) do redis.call('HSET', KEYS[1], name, value) end
    return 1
  end
end
return 0
"""


def _key(conversation_id: str, part: str = "") -> str:
    # The hash tag keeps one conversation's keys in one slot on a Redis cluster.
    return f"fd:conv:{{{conversation_id}}}{':' + part if part else ''}"


CONVERSATION_MATCH = "fd:conv:{*"  # SCAN pattern for every conversation key
EMAIL_MATCH = "fd:email:*"
# Conversation and case fields that hold a customer's e-mail address (`captured` is JSON).
EMAIL_FIELDS = ("customer_email", "lm_email", "email")
DEFAULT_EMPTY_TTL = 24 * 3600


def conversation_keys(conversation_id: str) -> list[str]:
    """Every key of one conversation: hash, transcript, client ids, e-mail addresses."""
    return [_key(conversation_id, part) for part in ("", "log", "cmid", "emails")]


def conversation_id_of(key: str) -> str | None:
    """The conversation id in one of its keys (ids never contain braces)."""
    prefix = "fd:conv:{"
    end = key.rfind("}")
    return key[len(prefix) : end] if key.startswith(prefix) and end > len(prefix) else None


def email_key(address: str) -> str:
    """The index of conversations that carried this address: `fd:email:<lowercased>`."""
    return f"fd:email:{address.strip().lower()}"


def emails_in(fields: Mapping[str, str]) -> set[str]:
    """The e-mail addresses in conversation or case fields, lowercased."""
    found = [fields.get(name, "") for name in EMAIL_FIELDS]
    try:
        captured = json.loads(fields.get("captured") or "{}")
    except ValueError:
        captured = {}
    if isinstance(captured, dict) and isinstance(captured.get("email"), str):
        found.append(captured["email"])
    return {a.strip().lower() for a in found if "@" in a}


def append_arguments(
    conversation_id: str, entry: Mapping[str, Any], client_msg_id: str | None
) -> tuple[list[str], list[str]]:
    """KEYS and ARGV of APPEND_FUNCTION's `append()`."""
    data = json.dumps(dict(entry), ensure_ascii=False, separators=(",", ":"))
    hash_key, log, cmid, emails = conversation_keys(conversation_id)
    customer = "1" if entry.get("role") == "customer" else "0"
    return [log, cmid, hash_key, emails], [client_msg_id or "", data, customer]


@dataclass(frozen=True)
class ConversationRecord:
    id: str
    fields: dict[str, str]
    messages: int
    last_message_at: float  # the last transcript entry's time; 0 without one
    indexed: set[str]  # the conversation's `emails` set
    expires_in: float | None  # seconds, for a conversation without a customer message

    @property
    def emails(self) -> set[str]:
        """Every address the conversation carried (indexed, or in its fields now)."""
        return self.indexed | emails_in(self.fields)

    @property
    def exists(self) -> bool:
        return bool(self.fields or self.messages)

    @property
    def last_activity(self) -> float:
        try:
            created = float(self.fields.get("created_at") or 0)
        except ValueError:
            created = 0.0
        return max(created, self.last_message_at)


class RedisStore:
    def __init__(self, redis: Redis, empty_ttl: int = DEFAULT_EMPTY_TTL) -> None:
        self.redis = redis
        self.empty_ttl = empty_ttl  # seconds a conversation without a customer message lives
        self._append = BatchedScript(redis, _APPEND)  # shares a round trip under load
        # A conversation opened, read back or moved on: on every session and handoff.
        self._transition = BatchedScript(redis, _TRANSITION)
        self._open = BatchedScript(redis, _OPEN)
        self._history = BatchedScript(redis, _HISTORY)
        self._index = redis.register_script(_INDEX)
        self._delete = redis.register_script(_DELETE)

    def expire_empty_after(self, seconds: int) -> None:
        """Conversations without a customer message expire after `seconds` (0: never)."""
        self.empty_ttl = seconds

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def append(
        self, conversation_id: str, entry: Mapping[str, Any], client_msg_id: str | None = None
    ) -> AppendResult:
        keys, args = append_arguments(conversation_id, entry, client_msg_id)
        with redis_errors("could not store the message"):
            seq, dup = await self._append(keys=keys, args=args)
        return AppendResult(seq=int(seq), duplicate=bool(int(dup)))

    async def history(
        self, conversation_id: str, after_seq: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        with redis_errors("could not read the transcript"):
            found, raw = await self._history(
                keys=[_key(conversation_id, "log")], args=[after_seq, limit]
            )
        start = int(found)
        entries = []
        for offset, item in enumerate(raw):
            entry: dict[str, Any] = json.loads(item)
            entry["seq"] = start + offset + 1
            entries.append(entry)
        return entries

    async def last_seq(self, conversation_id: str) -> int:
        with redis_errors():
            return int(await self.redis.llen(_key(conversation_id, "log")))

    async def get_conversation(self, conversation_id: str) -> dict[str, str]:
        with redis_errors():
            raw = await self.redis.hgetall(_key(conversation_id))
        return text_dict(raw)

    async def update_conversation(self, conversation_id: str, fields: Mapping[str, str]) -> None:
        if not fields:
            return
        await self.index_emails(conversation_id, emails_in(fields))
        with redis_errors():
            mapping: dict[Any, Any] = dict(fields)
            await self.redis.hset(_key(conversation_id), mapping=mapping)

    async def create_conversation(self, conversation_id: str, fields: Mapping[str, str]) -> bool:
        return (await self.open_conversation(conversation_id, fields, {})).created

    async def open_conversation(
        self, conversation_id: str, fields: Mapping[str, str], refresh: Mapping[str, str]
    ) -> OpenResult:
        await self.index_emails(conversation_id, emails_in({**fields, **refresh}))
        data = json.dumps(dict(fields), ensure_ascii=False)
        written = json.dumps(dict(refresh), ensure_ascii=False)
        ttl_ms = max(self.empty_ttl, 0) * 1000
        keys = conversation_keys(conversation_id)
        with redis_errors():
            created, flat, length = await self._open(
                keys=keys, args=[conversation_id, ttl_ms, data, written]
            )
        values = [text(v) for v in flat]
        found = dict(zip(values[::2], values[1::2], strict=True))
        return OpenResult(bool(int(created)), found, int(length))

    async def transition(
        self, conversation_id: str, allowed: list[str], fields: Mapping[str, str]
    ) -> bool:
        await self.index_emails(conversation_id, emails_in(fields))
        data = json.dumps(dict(fields), ensure_ascii=False)
        with redis_errors():
            done = await self._transition(keys=[_key(conversation_id)], args=[data, *allowed])
        return bool(int(done))

    async def incr_field(self, conversation_id: str, name: str, by: int = 1) -> int:
        with redis_errors():
            return int(await self.redis.hincrby(_key(conversation_id), name, by))

    async def first_time(self, namespace: str, key: str, ttl_seconds: int) -> bool:
        with redis_errors():
            return bool(
                await self.redis.set(f"fd:seen:{namespace}:{key}", 1, nx=True, ex=ttl_seconds)
            )

    # -- retention and erasure (frontdesk.store.retention) ---------------------------------------

    async def index_emails(self, conversation_id: str, found: set[str]) -> None:
        """Index e-mail addresses both ways (`fd:email:<address>` -> conversation ids, the
        conversation's `emails` set -> addresses). Called before fields holding them are
        written, so an address stored is always findable (a write that then fails leaves a
        harmless extra entry)."""
        addresses = sorted(found)
        if not addresses:
            return
        with redis_errors():
            for address in addresses:
                await self.redis.sadd(email_key(address), conversation_id)
            keys = [_key(conversation_id, "emails"), _key(conversation_id)]
            await self._index(keys=keys, args=addresses)

    async def scan_conversations(self) -> tuple[set[str], set[str]]:
        """Every conversation id that has a key, and every key part seen ("", "log", …)."""
        ids: set[str] = set()
        parts: set[str] = set()
        with redis_errors():
            async for raw in self.redis.scan_iter(match=CONVERSATION_MATCH, count=500):
                key = text(raw)
                conversation_id = conversation_id_of(key)
                if conversation_id is None:
                    continue
                ids.add(conversation_id)
                parts.add(key[len(_key(conversation_id)) :].removeprefix(":"))
        return ids, parts

    async def conversations_with_email(self, address: str) -> list[str]:
        rows = await call(self.redis.smembers(email_key(address)))
        return sorted(text(r) for r in rows)

    async def conversation_record(self, conversation_id: str) -> ConversationRecord:
        """What is stored of one conversation, for the retention sweep and `customers show`."""
        hash_key, log, _, emails = conversation_keys(conversation_id)
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(hash_key)
                pipe.llen(log)
                pipe.lindex(log, -1)
                pipe.smembers(emails)
                pipe.pttl(hash_key)
                fields, length, last, addresses, ttl_ms = await pipe.execute()
        last_at = 0.0
        if last is not None:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                last_at = float(json.loads(last).get("ts") or 0)
        fields = text_dict(fields)
        return ConversationRecord(
            id=conversation_id,
            fields=fields,
            messages=int(length),
            last_message_at=last_at,
            indexed={text(a) for a in addresses},
            expires_in=int(ttl_ms) / 1000 if int(ttl_ms) > 0 else None,
        )

    async def delete_conversation(
        self,
        conversation_id: str,
        parts: set[str] | frozenset[str] = frozenset(),
        if_messages: int | None = None,
    ) -> list[str]:
        """Delete the conversation's keys (the known ones and `parts` seen by a scan) and its
        e-mail index entries; the names deleted. With `if_messages`: only if the transcript
        still has that many entries and the conversation is not waiting or with an agent
        (nothing deleted otherwise)."""
        extra = [_key(conversation_id, part) for part in sorted(parts)]
        keys = list(dict.fromkeys(conversation_keys(conversation_id) + extra))
        record = await self.conversation_record(conversation_id)
        expected = "" if if_messages is None else str(if_messages)
        with redis_errors():
            deleted = [text(k) for k in await self._delete(keys=keys, args=[expected])]
        if not deleted and if_messages is not None:
            return []  # it changed since it was read, or it is active: kept
        return deleted + await self.unindex_emails(conversation_id, record.emails)

    async def unindex_emails(self, conversation_id: str, addresses: set[str]) -> list[str]:
        """Take the conversation out of these addresses' indexes; the entries removed."""
        touched = []
        with redis_errors():
            for address in sorted(addresses):
                if await self.redis.srem(email_key(address), conversation_id):
                    touched.append(f"{email_key(address)} entry")
        return touched

    async def drop_email_index(self, address: str) -> bool:
        """Delete an address's index (after its conversations were erased)."""
        return bool(await call(self.redis.delete(email_key(address))))

    async def prune_email_index(self) -> int:
        """Drop index entries of conversations that are gone (an empty conversation expired);
        how many."""
        pruned = 0
        with redis_errors():
            async for raw in self.redis.scan_iter(match=EMAIL_MATCH, count=500):
                key = text(raw)
                members = [text(m) for m in await self.redis.smembers(key)]
                for conversation_id in members:
                    hash_key, log = conversation_keys(conversation_id)[:2]
                    if not await self.redis.exists(hash_key, log):
                        pruned += int(await self.redis.srem(key, conversation_id))
        return pruned
