"""The store interface the core depends on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class AppendResult:
    seq: int
    duplicate: bool


@dataclass(frozen=True)
class Intake:
    """A customer's message stored and its turn recorded (TurnLedger.intake)."""

    seq: int
    duplicate: bool  # stored before under the same client id: nothing written, no turn
    conversation: dict[str, str]  # the conversation's fields when it was stored ({} if dup)


@dataclass(frozen=True)
class OpenResult:
    """A conversation as it was opened: whether it is new, its fields, its transcript's length."""

    created: bool
    fields: dict[str, str]
    messages: int


class Store(Protocol):
    async def ping(self) -> bool: ...

    async def append(
        self, conversation_id: str, entry: Mapping[str, Any], client_msg_id: str | None = None
    ) -> AppendResult:
        """Append to the transcript; the same client_msg_id is stored once."""

    async def history(
        self, conversation_id: str, after_seq: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Entries with seq > after_seq, oldest first, each with its seq."""

    async def last_seq(self, conversation_id: str) -> int: ...

    async def get_conversation(self, conversation_id: str) -> dict[str, str]: ...

    async def update_conversation(
        self, conversation_id: str, fields: Mapping[str, str]
    ) -> None: ...

    async def create_conversation(self, conversation_id: str, fields: Mapping[str, str]) -> bool:
        """Set the fields only if the conversation is new; True if it was created."""

    async def open_conversation(
        self, conversation_id: str, fields: Mapping[str, str], refresh: Mapping[str, str]
    ) -> OpenResult:
        """In one step: `fields` set where missing (all of them on a new conversation), then
        `refresh` written; the conversation's fields and transcript length after that."""

    async def transition(
        self, conversation_id: str, allowed: list[str], fields: Mapping[str, str]
    ) -> bool:
        """Write fields (one of them the new state) only if the conversation's current state
        is one of `allowed` (a missing state counts as "bot"); False, nothing written, if not."""

    async def incr_field(self, conversation_id: str, name: str, by: int = 1) -> int: ...

    async def first_time(self, namespace: str, key: str, ttl_seconds: int) -> bool:
        """True the first time (namespace, key) is seen within ttl_seconds (dedupe of updates)."""


class CaseStore(Protocol):
    """Handoff cases: the live queue, left messages, agents' open cases, notes."""

    async def create(
        self, case_id: str, fields: Mapping[str, str], customer_key: str, kind: str = "live"
    ) -> None:
        """A new case: in the live queue (kind "live") or the left messages ("message")."""

    async def get(self, case_id: str) -> dict[str, str]: ...

    async def get_many(self, case_ids: list[str]) -> list[dict[str, str]]: ...

    async def update(self, case_id: str, fields: Mapping[str, str]) -> None: ...

    async def append_reply(
        self, case_id: str, agent: str, conversation_id: str, entry: Mapping[str, Any]
    ) -> int | None:
        """Append the agent's reply to the conversation's transcript (Store.append) if the
        agent holds the case in a live chat, checked in the same step; its seq, or None."""

    async def set_once(self, case_id: str, name: str, value: str) -> bool: ...

    async def queue(self) -> list[tuple[str, float]]:
        """The live queue, oldest request first."""

    async def messages(self) -> list[tuple[str, float]]:
        """Left messages waiting for an answer, oldest first."""

    async def dequeue(self, case_id: str) -> bool:
        """Take a case out of the queue or the left messages; False if it was in neither."""

    async def claim(self, case_id: str, agent: str, capacity: int, now: float | None = None) -> int:
        """1 claimed, 0 no longer waiting, -1 agent at capacity."""

    async def unclaim(self, case_id: str, agent: str, requested_at: float) -> None:
        """Undo a claim of a live case: back in the queue at its place, nobody's."""

    async def transfer(self, case_id: str, source: str, target: str, capacity: int) -> int: ...

    async def release(self, case_id: str, agent: str, fields: Mapping[str, str]) -> None: ...

    async def agent_cases(self, agent: str) -> list[str]:
        """The live chats the agent holds (their load, bounded by their capacity)."""

    async def agent_messages(self, agent: str) -> list[str]:
        """The left messages the agent took to answer by e-mail (no capacity slot)."""

    async def loads(self, agents: list[str]) -> dict[str, int]: ...

    async def customer_cases(self, customer_key: str, limit: int = 20) -> list[str]: ...

    async def add_note(self, case_id: str, note: Mapping[str, Any]) -> None: ...

    async def notes(self, case_id: str) -> list[dict[str, Any]]: ...

    async def closed_since(self, since: float) -> list[str]: ...

    async def mark_away(self, conversation_id: str, since: float, keep_older: bool = False) -> None:
        """None of the customer's pages is open since `since` (abandonment)."""

    async def mark_back(self, conversation_id: str) -> None: ...

    async def away_since(self, until: float) -> list[tuple[str, float]]:
        """Conversations away since `until` or earlier, oldest first."""

    async def forget_away(self, conversation_ids: list[str]) -> None: ...


class AgentStore(Protocol):
    """Agent accounts and presence."""

    async def save(self, name: str, fields: Mapping[str, str]) -> None: ...

    async def get(self, name: str) -> dict[str, str]: ...

    async def names(self) -> list[str]: ...

    async def set_status(self, name: str, status: str) -> None: ...

    async def connected(self, name: str, delta: int) -> int: ...

    async def presence(self) -> dict[str, tuple[str, int]]:
        """name -> (status, open console connections) for every known agent."""


class TurnLedger(Protocol):
    """Turns in flight, so that a turn whose process died is answered by another."""

    async def intake(
        self,
        conversation_id: str,
        entry: Mapping[str, Any],
        client_msg_id: str | None,
        turn: Mapping[str, Any],
    ) -> Intake:
        """Store a customer's message in the transcript (Store.append: once per client id)
        and, if it is new, record its turn under its seq: both or neither, in one step."""

    async def begin(self, conversation_id: str, seq: int, turn: Mapping[str, Any]) -> None: ...

    async def finish(self, conversation_id: str, seq: int) -> None: ...

    async def finish_many(self, turns: Sequence[tuple[str, int]]) -> None:
        """Finish several turns (conversation id, seq) at once."""

    async def pending(self, conversation_id: str) -> dict[int, dict[str, Any]]: ...

    async def conversations(self) -> list[str]: ...

    async def adopt(self, conversation_id: str, seq: int, owner: str, new_owner: str) -> bool:
        """Take over a turn from `owner` (atomically; False if someone else did)."""

    async def beat(self, process_id: str, ttl_seconds: int) -> None: ...

    async def alive(self, process_id: str) -> bool: ...

    async def gone(self, process_id: str) -> None: ...


class MailOutbox(Protocol):
    """Answers to left messages waiting to go out by e-mail, and one-click satisfaction tokens
    (frontdesk.store.mail)."""

    async def enqueue(self, case_id: str, fields: Mapping[str, str], now: float) -> None: ...

    async def get(self, case_id: str) -> dict[str, str]: ...

    async def take_due(self, now: float, lease_seconds: float, limit: int = 10) -> list[str]:
        """Answers whose try is due, leased to the caller (no one else takes them meanwhile)."""

    async def next_due(self) -> float | None: ...

    async def update(self, case_id: str, fields: Mapping[str, str]) -> None: ...

    async def retry_at(self, case_id: str, at: float, fields: Mapping[str, str]) -> None: ...

    async def hold(self, case_id: str, fields: Mapping[str, str]) -> None:
        """Failed for good: no more tries until retry_now (it stays undelivered)."""

    async def delivered(self, case_id: str) -> None: ...

    async def retry_now(self, case_id: str, now: float) -> bool: ...

    async def undelivered(self) -> list[str]: ...

    async def issue_token(self, nonce: str, value: str, ttl_seconds: int) -> None: ...

    async def redeem_token(self, nonce: str, ttl_seconds: int) -> str | None:
        """The token's value once (consumed on use); None when used, expired or unknown."""

    async def peek_token(self, nonce: str) -> str | None: ...

    async def used_token(self, nonce: str) -> str | None: ...
