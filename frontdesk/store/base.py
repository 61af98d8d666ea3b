"""The store interface the core depends on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class AppendResult:
    seq: int
    duplicate: bool


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

    async def incr_field(self, conversation_id: str, name: str, by: int = 1) -> int: ...

    async def first_time(self, namespace: str, key: str, ttl_seconds: int) -> bool:
        """True the first time (namespace, key) is seen within ttl_seconds (dedupe of updates)."""
