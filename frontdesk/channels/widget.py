"""The website widget channel: Rasa's socketio protocol, plus frontdesk's own events.

WidgetChannel is the Socket.IO namespace and the widget's outbound sender (here); its handlers
live by job: a connection and its conversation (`session_request`, connect, disconnect) in
frontdesk.channels.widget_session, what a customer sends in one (`user_uttered`, `prechat`,
`answer_feedback`, `user_typing`) in frontdesk.channels.widget_events, what both share in
frontdesk.channels.widget_base. What it accepts and sends: widget_input, widget_shapes; photos,
files and the pre-chat form: widget_files.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from frontdesk.channels.packets import refusal, refused
from frontdesk.channels.widget_base import CHANNEL
from frontdesk.channels.widget_events import WidgetEvents
from frontdesk.channels.widget_input import is_connection
from frontdesk.channels.widget_session import WidgetSession
from frontdesk.channels.widget_shapes import plain_room, plain_shape, rasa_shape

__all__ = ["CHANNEL", "WidgetChannel", "is_connection"]

log = logging.getLogger(__name__)


class WidgetChannel(WidgetSession, WidgetEvents):
    """Socket.IO namespace for website customers; also the widget's outbound sender."""

    # -- outbound -----------------------------------------------------------------------------

    async def deliver(self, conversation_id: str, entry: Mapping[str, Any]) -> None:
        await self.emit("bot_uttered", rasa_shape(self._signed(entry)), room=conversation_id)
        plain = plain_shape(self.extras.plain(entry) if self.extras else entry)
        if plain:
            await self.emit("bot_uttered", plain, room=plain_room(conversation_id))

    async def typing(
        self, conversation_id: str, active: bool, in_reply_to: int, activity: str = ""
    ) -> None:
        status: dict[str, Any] = {"typing": active, "in_reply_to": in_reply_to}
        if activity:
            status["activity"] = activity
        await self.emit("bot_typing", status, room=conversation_id)

    async def event(self, conversation_id: str, name: str, data: Mapping[str, Any]) -> None:
        await self.emit(name, dict(data), room=conversation_id)

    # -- inbound ------------------------------------------------------------------------------

    async def trigger_event(self, event: Any, *args: Any) -> Any:
        """Every event gets an answer: one no handler takes (an unknown or reserved name, extra
        arguments, an unreadable packet) an error ack, and nothing else happens."""
        refused_why = refusal(self, event, args)
        if refused_why is None:
            return await super().trigger_event(event, *args)
        log.debug("widget: refused an event: %s", refused_why[1])
        return refused(*refused_why)
