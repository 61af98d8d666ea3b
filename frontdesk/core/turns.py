"""Turns in flight, recorded so that none is lost: every acknowledged customer message gets an
answer or an honest failure, even when the gateway process that took it dies.

- A turn is recorded when its message is stored (in the same step), and finished once its
  replies are stored.
- Each process proves it is alive with a short-lived key; the turns of a process that is gone
  are adopted by a live one (`orphans`), which runs them again.
- A customer's resend of a message that was stored but never answered runs its turn again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from frontdesk.core.later import Later
from frontdesk.core.messages import Inbound
from frontdesk.store.base import Intake, Store, TurnLedger

log = logging.getLogger(__name__)

ALIVE_SECONDS = 10  # a process that has not said it is alive for this long is gone
MAX_ATTEMPTS = 3  # runs of one turn before the customer is told it failed
# The turn being answered in this task: (conversation id, seq). The outbox stamps every message
# of the turn with `in_reply_to`, so a turn run again knows whether it was already answered.
CURRENT: ContextVar[tuple[str, int] | None] = ContextVar("frontdesk_turn", default=None)


@dataclass(frozen=True)
class Orphan:
    inbound: Inbound
    seq: int
    attempts: int


class Turns:
    def __init__(self, ledger: TurnLedger, store: Store, process_id: str, later: Later) -> None:
        self.ledger = ledger
        self.store = store
        self.process_id = process_id
        self.later = later
        self.running: set[tuple[str, int]] = set()
        self._finished: list[tuple[str, int]] | None = None  # the batch not written yet

    async def intake(self, inbound: Inbound, entry: Mapping[str, Any]) -> Intake:
        """Store the customer's message (once per client id) and, if it is new, record its
        turn: in one step, so an acknowledged message always has its turn recorded."""
        turn = self._record(inbound)
        conversation_id, client_msg_id = inbound.conversation_id, inbound.client_msg_id
        return await self.ledger.intake(conversation_id, entry, client_msg_id, turn)

    async def begin(self, inbound: Inbound, seq: int) -> None:
        await self.ledger.begin(inbound.conversation_id, seq, self._record(inbound))

    def _record(self, inbound: Inbound) -> dict[str, Any]:
        """What a turn keeps: enough to run it again in another process."""
        turn: dict[str, Any] = {
            "owner": self.process_id,
            "at": round(time.time(), 3),
            "channel": inbound.channel,
            "text": inbound.text,
            "payload": inbound.payload,
            "client_msg_id": inbound.client_msg_id,
            "metadata": inbound.metadata,
        }
        if inbound.attachment:
            turn["attachment"] = inbound.attachment
        return turn

    def finish(self, conversation_id: str, seq: int) -> None:
        """The turn is done (answered, or honestly failed): forget it, retrying if the store
        is down (a turn left recorded would otherwise run again). Off the reply's path, and
        batched: the turns finished before the write starts go in its one round trip."""
        if self._finished is not None:
            self._finished.append((conversation_id, seq))
            return
        batch = [(conversation_id, seq)]
        self._finished = batch

        async def write() -> None:
            if self._finished is batch:
                self._finished = None  # turns finished from now on make the next batch
            await self.ledger.finish_many(batch)

        self.later.run(f"finishing turn {conversation_id}#{seq} and those after it", write)

    async def unanswered(self, inbound: Inbound, seq: int) -> bool:
        """A resent message: should its turn run (again)? Yes when it is recorded but its
        process is gone, or when it was stored but never recorded and nothing answered it."""
        conversation_id = inbound.conversation_id
        if (conversation_id, seq) in self.running:
            return False
        turn = (await self.ledger.pending(conversation_id)).get(seq)
        if turn is not None:
            owner = str(turn.get("owner", ""))
            if owner == self.process_id or await self.ledger.alive(owner):
                return False
            if not await self.ledger.adopt(conversation_id, seq, owner, self.process_id):
                return False
        elif await self.answered(conversation_id, seq):
            return False
        else:
            await self.begin(inbound, seq)
        if await self.answered(conversation_id, seq):
            self.finish(conversation_id, seq)
            return False
        return True

    async def answered(self, conversation_id: str, seq: int) -> bool:
        """Whether the turn of message `seq` already sent its answer (stored)."""
        later = await self.store.history(conversation_id, seq, 1000)
        return any(e.get("in_reply_to") == seq for e in later)

    async def orphans(self) -> list[Orphan]:
        """Turns of processes that are gone, adopted by this one (oldest first)."""
        adopted: list[Orphan] = []
        gone: dict[str, bool] = {}
        for conversation_id in await self.ledger.conversations():
            turns = await self.ledger.pending(conversation_id)
            for seq in sorted(turns):
                turn = turns[seq]
                owner = str(turn.get("owner", ""))
                if owner == self.process_id:
                    continue
                if owner not in gone:
                    gone[owner] = not await self.ledger.alive(owner)
                if not gone[owner]:
                    continue
                if not await self.ledger.adopt(conversation_id, seq, owner, self.process_id):
                    continue
                if await self.answered(conversation_id, seq):  # died after answering
                    self.finish(conversation_id, seq)
                    continue
                inbound = Inbound(
                    conversation_id=conversation_id,
                    channel=str(turn.get("channel") or "widget"),
                    text=str(turn.get("text") or ""),
                    payload=str(turn.get("payload") or ""),
                    client_msg_id=turn.get("client_msg_id"),
                    metadata=dict(turn.get("metadata") or {}),
                    attachment=turn.get("attachment") or None,
                )
                adopted.append(Orphan(inbound, seq, int(turn.get("attempts") or 0) + 1))
        return adopted

    async def beat(self) -> None:
        await self.ledger.beat(self.process_id, ALIVE_SECONDS)

    async def hand_back(self) -> None:
        """At shutdown with turns still running: say this process is gone, so another
        gateway adopts them at once rather than after ALIVE_SECONDS."""
        await self.ledger.gone(self.process_id)
