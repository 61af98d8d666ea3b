"""Every message to a customer, from bot, agent or the gateway itself, goes through here."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from frontdesk.core.messages import Outbound
from frontdesk.core.metrics import Metrics
from frontdesk.store.base import Store

log = logging.getLogger(__name__)


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

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._channels: dict[str, ChannelSender] = {}

    def register(self, channel: str, sender: ChannelSender) -> None:
        self._channels[channel] = sender

    async def send(self, conversation_id: str, channel: str, message: Outbound) -> dict[str, Any]:
        entry = message.to_entry()
        result = await self._store.append(conversation_id, entry)
        entry["seq"] = result.seq
        self._metrics.messages.labels(channel, message.role).inc()
        sender = self._channels.get(channel)
        if sender is None:
            log.error("no sender for channel %r; message %s stored only", channel, result.seq)
            return entry
        await sender.deliver(conversation_id, entry)
        return entry

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
