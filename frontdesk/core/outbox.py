"""Every message to a customer, from bot, agent or the gateway itself, goes through here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from frontdesk.core.later import Later
from frontdesk.core.messages import Outbound
from frontdesk.core.metrics import Metrics
from frontdesk.core.turns import CURRENT
from frontdesk.errors import StoreUnavailable
from frontdesk.store.base import Store

log = logging.getLogger(__name__)

STORE_RETRIES = (0.2, 0.5, 1.0)  # pauses before giving up on storing a reply first


Append = Callable[[Mapping[str, Any]], Awaitable[int | None]]


class NotStored(Exception):
    """A message its store refused (Outbox.send's `append`): neither stored nor sent."""


class ChannelSender(Protocol):
    async def deliver(self, conversation_id: str, entry: Mapping[str, Any]) -> None:
        """Send one stored transcript entry (with its seq) to the customer."""

    async def typing(
        self, conversation_id: str, active: bool, in_reply_to: int, activity: str = ""
    ) -> None:
        """Show or hide "typing…" (with what is being done, if said); `active=False` also
        marks the end of a bot turn."""

    async def event(self, conversation_id: str, name: str, data: Mapping[str, Any]) -> None:
        """A channel-specific notice (agent_joined, agent_typing, …); may be ignored."""


class Outbox:
    """Stores each outbound message in the transcript, then hands it to the customer's channel."""

    def __init__(self, store: Store, metrics: Metrics, later: Later | None = None) -> None:
        self._store = store
        self._metrics = metrics
        self._later = later if later is not None else Later()
        self._channels: dict[str, ChannelSender] = {}

    def register(self, channel: str, sender: ChannelSender) -> None:
        self._channels[channel] = sender

    async def send(
        self,
        conversation_id: str,
        channel: str,
        message: Outbound,
        append: Append | None = None,
    ) -> dict[str, Any]:
        """Store, then deliver. If the store stays down (a few quick retries), the customer
        still gets the message now, and it is stored once the store is back.

        `append`: stores the entry instead of the transcript's own append, and may refuse
        (None: NotStored is raised, nothing is delivered); an agent's reply is stored only
        while the agent holds the case. If the store is down, StoreUnavailable is raised."""
        entry = message.to_entry()
        turn = CURRENT.get()
        if turn is not None and turn[0] == conversation_id:
            entry["in_reply_to"] = turn[1]
        if append is not None:
            seq = await append(entry)
            if seq is None:
                raise NotStored(f"a message to {conversation_id} was refused by its store")
            entry["seq"] = seq
            return await self._deliver(conversation_id, channel, message, entry)
        try:
            entry["seq"] = await self._append(conversation_id, entry)
        except StoreUnavailable as exc:
            log.error("delivering %s's message unstored for now: %s", conversation_id, exc)
            stored = dict(entry)

            async def store_later() -> None:
                await self._store.append(conversation_id, stored)

            self._later.run(f"a reply to {conversation_id}", store_later)
        return await self._deliver(conversation_id, channel, message, entry)

    async def _deliver(
        self, conversation_id: str, channel: str, message: Outbound, entry: dict[str, Any]
    ) -> dict[str, Any]:
        self._metrics.messages.labels(channel, message.role).inc()
        sender = self._channels.get(channel)
        if sender is None:
            log.error("no sender for channel %r; message %s stored only", channel, entry.get("seq"))
            return entry
        await sender.deliver(conversation_id, entry)
        return entry

    async def _append(self, conversation_id: str, entry: Mapping[str, Any]) -> int:
        for pause in STORE_RETRIES:
            try:
                return (await self._store.append(conversation_id, entry)).seq
            except StoreUnavailable:
                await asyncio.sleep(pause)
        return (await self._store.append(conversation_id, entry)).seq

    async def typing(
        self, conversation_id: str, channel: str, active: bool, in_reply_to: int, activity: str = ""
    ) -> None:
        sender = self._channels.get(channel)
        if sender is not None:
            await sender.typing(conversation_id, active, in_reply_to, activity)

    async def event(
        self, conversation_id: str, channel: str, name: str, data: Mapping[str, Any]
    ) -> None:
        sender = self._channels.get(channel)
        if sender is not None:
            await sender.event(conversation_id, name, data)
