"""In-memory implementations of the store interfaces (frontdesk.store.base), for the fast test
layer: the core's transitions and routing rules run against these in milliseconds. They keep the
same contracts as the Redis classes (dedupe by client id, atomic claims, state-checked
transitions), which the Redis-backed tests cover for the real thing."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from frontdesk.store.base import AppendResult, Intake, OpenResult


class MemoryStore:
    def __init__(self) -> None:
        self.logs: dict[str, list[dict[str, Any]]] = {}
        self.client_ids: dict[str, dict[str, int]] = {}
        self.conversations: dict[str, dict[str, str]] = {}
        self.seen: dict[str, float] = {}

    async def ping(self) -> bool:
        return True

    async def append(
        self, conversation_id: str, entry: Mapping[str, Any], client_msg_id: str | None = None
    ) -> AppendResult:
        ids = self.client_ids.setdefault(conversation_id, {})
        if client_msg_id and client_msg_id in ids:
            return AppendResult(ids[client_msg_id], True)
        log = self.logs.setdefault(conversation_id, [])
        log.append(json.loads(json.dumps(dict(entry))))
        if client_msg_id:
            ids[client_msg_id] = len(log)
        return AppendResult(len(log), False)

    async def history(
        self, conversation_id: str, after_seq: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        log = self.logs.get(conversation_id, [])
        start = max(after_seq, len(log) - limit)
        return [{**e, "seq": start + i + 1} for i, e in enumerate(log[start:])]

    async def last_seq(self, conversation_id: str) -> int:
        return len(self.logs.get(conversation_id, []))

    async def get_conversation(self, conversation_id: str) -> dict[str, str]:
        return dict(self.conversations.get(conversation_id, {}))

    async def update_conversation(self, conversation_id: str, fields: Mapping[str, str]) -> None:
        self.conversations.setdefault(conversation_id, {}).update(fields)

    async def create_conversation(self, conversation_id: str, fields: Mapping[str, str]) -> bool:
        if conversation_id in self.conversations:
            return False
        self.conversations[conversation_id] = {"id": conversation_id, **fields}
        return True

    async def open_conversation(
        self, conversation_id: str, fields: Mapping[str, str], refresh: Mapping[str, str]
    ) -> OpenResult:
        created = conversation_id not in self.conversations
        row = self.conversations.setdefault(conversation_id, {"id": conversation_id})
        for name, value in fields.items():  # set where missing
            row.setdefault(name, value)
        row.update(refresh)
        return OpenResult(created, dict(row), len(self.logs.get(conversation_id, [])))

    async def transition(
        self, conversation_id: str, allowed: list[str], fields: Mapping[str, str]
    ) -> bool:
        current = self.conversations.get(conversation_id, {}).get("state") or "bot"
        if current not in allowed:
            return False
        self.conversations.setdefault(conversation_id, {}).update(fields)
        return True

    async def incr_field(self, conversation_id: str, name: str, by: int = 1) -> int:
        row = self.conversations.setdefault(conversation_id, {})
        row[name] = str(int(row.get(name) or 0) + by)
        return int(row[name])

    async def first_time(self, namespace: str, key: str, ttl_seconds: int) -> bool:
        name = f"{namespace}:{key}"
        if self.seen.get(name, 0) > time.time():
            return False
        self.seen[name] = time.time() + ttl_seconds
        return True


class MemoryCases:
    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else MemoryStore()  # where replies are stored
        self.rows: dict[str, dict[str, str]] = {}
        self.live: dict[str, float] = {}
        self.left: dict[str, float] = {}
        self.held: dict[str, set[str]] = {}
        self.held_messages: dict[str, set[str]] = {}  # left messages taken: no capacity slot
        self.by_customer: dict[str, list[str]] = {}
        self.closed: dict[str, float] = {}
        self.notes_of: dict[str, list[dict[str, Any]]] = {}
        self.away: dict[str, float] = {}

    async def create(
        self, case_id: str, fields: Mapping[str, str], customer_key: str, kind: str = "live"
    ) -> None:
        self.rows[case_id] = {**fields, "kind": kind}
        (self.left if kind == "message" else self.live)[case_id] = float(fields["requested_at"])
        self.by_customer.setdefault(customer_key, []).insert(0, case_id)

    async def get(self, case_id: str) -> dict[str, str]:
        return dict(self.rows.get(case_id, {}))

    async def get_many(self, case_ids: list[str]) -> list[dict[str, str]]:
        return [dict(self.rows[c]) for c in case_ids if c in self.rows]

    async def update(self, case_id: str, fields: Mapping[str, str]) -> None:
        self.rows.setdefault(case_id, {}).update(fields)

    async def append_reply(
        self, case_id: str, agent: str, conversation_id: str, entry: Mapping[str, Any]
    ) -> int | None:
        row = self.rows.get(case_id, {})
        if row.get("agent") != agent or row.get("state") != "agent" or row.get("kind") == "message":
            return None
        return (await self.store.append(conversation_id, entry)).seq

    async def set_once(self, case_id: str, name: str, value: str) -> bool:
        row = self.rows.setdefault(case_id, {})
        if name in row:
            return False
        row[name] = value
        return True

    async def queue(self) -> list[tuple[str, float]]:
        return sorted(self.live.items(), key=lambda item: item[1])

    async def mark_away(self, conversation_id: str, since: float, keep_older: bool = False) -> None:
        if not (keep_older and conversation_id in self.away):
            self.away[conversation_id] = since

    async def mark_back(self, conversation_id: str) -> None:
        self.away.pop(conversation_id, None)

    async def away_since(self, until: float) -> list[tuple[str, float]]:
        return sorted(((c, t) for c, t in self.away.items() if t <= until), key=lambda i: i[1])

    async def forget_away(self, conversation_ids: list[str]) -> None:
        for conversation_id in conversation_ids:
            self.away.pop(conversation_id, None)

    async def messages(self) -> list[tuple[str, float]]:
        return sorted(self.left.items(), key=lambda item: item[1])

    async def dequeue(self, case_id: str) -> bool:
        return self.live.pop(case_id, None) is not None or self.left.pop(case_id, None) is not None

    async def claim(self, case_id: str, agent: str, capacity: int, now: float | None = None) -> int:
        held = self.held.setdefault(agent, set())
        if self.left.pop(case_id, None) is not None:
            held = self.held_messages.setdefault(agent, set())
        elif len(held) >= capacity:
            return -1
        elif self.live.pop(case_id, None) is None:
            return 0
        held.add(case_id)
        row = self.rows[case_id]
        row.update(state="agent", agent=agent)
        row.setdefault("joined_at", f"{now or time.time():.3f}")
        return 1

    async def unclaim(self, case_id: str, agent: str, requested_at: float) -> None:
        self.held.get(agent, set()).discard(case_id)
        self.live[case_id] = requested_at
        row = self.rows[case_id]
        row["state"] = "queued"
        row.pop("agent", None)
        row.pop("joined_at", None)

    async def transfer(self, case_id: str, source: str, target: str, capacity: int) -> int:
        if case_id in self.held_messages.get(source, set()):
            self.held_messages[source].discard(case_id)
            self.held_messages.setdefault(target, set()).add(case_id)
            self.rows[case_id]["agent"] = target
            return 1
        if case_id not in self.held.get(source, set()):
            return 0
        if len(self.held.setdefault(target, set())) >= capacity:
            return -1
        self.held[source].discard(case_id)
        self.held[target].add(case_id)
        self.rows[case_id]["agent"] = target
        return 1

    async def release(self, case_id: str, agent: str, fields: Mapping[str, str]) -> None:
        self.held.get(agent, set()).discard(case_id)
        self.held_messages.get(agent, set()).discard(case_id)
        self.rows[case_id].update(fields)
        self.closed[case_id] = float(fields.get("closed_at", time.time()))

    async def agent_cases(self, agent: str) -> list[str]:
        return sorted(self.held.get(agent, set()))

    async def agent_messages(self, agent: str) -> list[str]:
        return sorted(self.held_messages.get(agent, set()))

    async def loads(self, agents: list[str]) -> dict[str, int]:
        return {a: len(self.held.get(a, set())) for a in agents}

    async def customer_cases(self, customer_key: str, limit: int = 20) -> list[str]:
        return self.by_customer.get(customer_key, [])[: limit + 1]

    async def add_note(self, case_id: str, note: Mapping[str, Any]) -> None:
        self.notes_of.setdefault(case_id, []).append(dict(note))

    async def notes(self, case_id: str) -> list[dict[str, Any]]:
        return list(self.notes_of.get(case_id, []))

    async def closed_since(self, since: float) -> list[str]:
        return [c for c, at in sorted(self.closed.items(), key=lambda i: i[1]) if at >= since]


class MemoryAgents:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, str]] = {}
        self.status: dict[str, str] = {}
        self.online: dict[str, int] = {}

    async def save(self, name: str, fields: Mapping[str, str]) -> None:
        self.rows[name] = {"name": name, **fields}

    async def get(self, name: str) -> dict[str, str]:
        return dict(self.rows.get(name, {}))

    async def names(self) -> list[str]:
        return sorted(self.rows)

    async def set_status(self, name: str, status: str) -> None:
        self.status[name] = status

    async def connected(self, name: str, delta: int) -> int:
        self.online[name] = max(0, self.online.get(name, 0) + delta)
        return self.online[name]

    async def presence(self) -> dict[str, tuple[str, int]]:
        names = set(self.status) | set(self.online)
        return {n: (self.status.get(n, "available"), self.online.get(n, 0)) for n in names}


class MemoryTurns:
    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else MemoryStore()  # where intake appends
        self.turns: dict[str, dict[int, dict[str, Any]]] = {}
        self.alive_until: dict[str, float] = {}

    async def intake(
        self,
        conversation_id: str,
        entry: Mapping[str, Any],
        client_msg_id: str | None,
        turn: Mapping[str, Any],
    ) -> Intake:
        result = await self.store.append(conversation_id, entry, client_msg_id)
        if result.duplicate:
            return Intake(result.seq, True, {})
        await self.begin(conversation_id, result.seq, turn)
        fields = await self.store.get_conversation(conversation_id)
        return Intake(result.seq, False, fields)

    async def begin(self, conversation_id: str, seq: int, turn: Mapping[str, Any]) -> None:
        self.turns.setdefault(conversation_id, {})[seq] = json.loads(json.dumps(dict(turn)))

    async def finish(self, conversation_id: str, seq: int) -> None:
        self.turns.get(conversation_id, {}).pop(seq, None)
        if not self.turns.get(conversation_id):
            self.turns.pop(conversation_id, None)

    async def finish_many(self, turns: Sequence[tuple[str, int]]) -> None:
        for conversation_id, seq in turns:
            await self.finish(conversation_id, seq)

    async def pending(self, conversation_id: str) -> dict[int, dict[str, Any]]:
        return {seq: dict(t) for seq, t in self.turns.get(conversation_id, {}).items()}

    async def conversations(self) -> list[str]:
        return list(self.turns)

    async def adopt(self, conversation_id: str, seq: int, owner: str, new_owner: str) -> bool:
        turn = self.turns.get(conversation_id, {}).get(seq)
        if turn is None or turn.get("owner") != owner:
            return False
        turn["owner"] = new_owner
        turn["attempts"] = int(turn.get("attempts") or 0) + 1
        return True

    async def beat(self, process_id: str, ttl_seconds: int) -> None:
        self.alive_until[process_id] = time.time() + ttl_seconds

    async def alive(self, process_id: str) -> bool:
        return self.alive_until.get(process_id, 0) > time.time()

    async def gone(self, process_id: str) -> None:
        self.alive_until.pop(process_id, None)


class MemoryMail:
    """The mail outbox and satisfaction tokens (frontdesk.store.mail), in memory."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, str]] = {}
        self.due: dict[str, float] = {}
        self.open: dict[str, float] = {}
        self.tokens: dict[str, str] = {}
        self.used: dict[str, str] = {}

    async def enqueue(self, case_id: str, fields: Mapping[str, str], now: float) -> None:
        self.rows[case_id] = dict(fields)
        self.due[case_id] = self.open[case_id] = now

    async def get(self, case_id: str) -> dict[str, str]:
        return dict(self.rows.get(case_id, {}))

    async def take_due(self, now: float, lease_seconds: float, limit: int = 10) -> list[str]:
        taken = sorted((at, c) for c, at in self.due.items() if at <= now)[:limit]
        for _, case_id in taken:
            self.due[case_id] = now + lease_seconds
        return [c for _, c in taken]

    async def next_due(self) -> float | None:
        return min(self.due.values(), default=None)

    async def update(self, case_id: str, fields: Mapping[str, str]) -> None:
        self.rows.setdefault(case_id, {}).update(fields)

    async def retry_at(self, case_id: str, at: float, fields: Mapping[str, str]) -> None:
        await self.update(case_id, fields)
        self.due[case_id] = at

    async def hold(self, case_id: str, fields: Mapping[str, str]) -> None:
        await self.update(case_id, fields)
        self.due.pop(case_id, None)

    async def delivered(self, case_id: str) -> None:
        for table in (self.rows, self.due, self.open):
            table.pop(case_id, None)

    async def retry_now(self, case_id: str, now: float) -> bool:
        if case_id not in self.open:
            return False
        self.due[case_id] = now
        return True

    async def undelivered(self) -> list[str]:
        return [c for c, _ in sorted(self.open.items(), key=lambda item: item[1])]

    async def issue_token(self, nonce: str, value: str, ttl_seconds: int) -> None:
        self.tokens[nonce] = value

    async def redeem_token(self, nonce: str, ttl_seconds: int) -> str | None:
        value = self.tokens.pop(nonce, None)
        if value is not None:
            self.used[nonce] = value
        return value

    async def peek_token(self, nonce: str) -> str | None:
        return self.tokens.get(nonce)

    async def used_token(self, nonce: str) -> str | None:
        return self.used.get(nonce)
