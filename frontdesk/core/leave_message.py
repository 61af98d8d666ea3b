"""Outside hours (or with nobody online) a request for a person becomes "leave a message":
an e-mail address, the message, a stated reply time, and a case agents answer by e-mail.

On a channel whose customers are reached in the chat itself whenever we write (IN_CHAT:
WhatsApp, where the phone number is the address), no e-mail is asked for and the answer goes
to the chat (frontdesk.core.inbox)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from frontdesk.core.conversation import (
    CANCEL_REQUEST,
    Conversation,
    Conversations,
    LeaveDraft,
    State,
)
from frontdesk.core.messages import Inbound, Outbound, QuickReply
from frontdesk.core.outbox import Outbox
from frontdesk.core.templates import Templates
from frontdesk.core.waits import Waits

EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
MAX_MESSAGE = 4000
# Channels whose left messages are answered in the chat, never by e-mail: the customer's
# identity there is a phone number we can always write to (a template outside the 24 hours).
IN_CHAT = frozenset({"whatsapp"})


def answered_in_chat(channel: str) -> bool:
    return channel in IN_CHAT


def valid_email(text: str) -> bool:
    return len(text) <= 254 and EMAIL.match(text) is not None


class LeaveMessage:
    def __init__(
        self, conversations: Conversations, outbox: Outbox, templates: Templates, waits: Waits
    ) -> None:
        self.conversations = conversations
        self.outbox = outbox
        self.templates = templates
        self.waits = waits

    def _say(self, conversation: Conversation, key: str, **context: Any) -> str:
        return self.templates.render(conversation.language, key, **context)

    async def _send(self, conversation: Conversation, text: str, cancel: bool = True) -> None:
        buttons = (
            (QuickReply(self._say(conversation, "button_never_mind"), CANCEL_REQUEST),)
            if cancel
            else ()
        )
        await self.outbox.send(conversation.id, conversation.channel, Outbound(text, buttons))

    def _when(self, conversation: Conversation) -> dict[str, str]:
        """When we reply: {reopen, reply_by}. Open but nobody online: no "we reopen" (we are
        open); the reply is promised within the reply window from now."""
        return self.waits.reopening(conversation.language)

    def _done_key(self) -> str:
        return "leave_message_done" if not self.waits.is_open() else "leave_message_done_open"

    @staticmethod
    def _where(conversation: Conversation, key: str) -> str:
        """The message saying where the answer goes: by e-mail, or here in the chat."""
        return f"{key}_chat" if answered_in_chat(conversation.channel) else key

    async def confirm(self, conversation: Conversation, fields: Mapping[str, str]) -> None:
        """Tell the customer their message is saved (once it is: the case exists)."""
        when = self._when(conversation)
        key = self._where(conversation, self._done_key())
        text = self._say(conversation, key, email=fields["email"], **when)
        await self._send(conversation, text, cancel=False)

    async def already_left(self, conversation: Conversation, case: Mapping[str, str]) -> None:
        """A customer whose message is waiting asks for a person again: say where it stands."""
        text = self._say(
            conversation,
            self._where(conversation, "leave_message_already"),
            email=case.get("email", ""),
            reply_by=case.get("promised_reply_by", ""),
        )
        await self._send(conversation, text, cancel=False)

    async def start(self, conversation: Conversation, reason: str, detail: str) -> None:
        closed = not self.waits.is_open()
        email = conversation.captured.get("email") or conversation.details.get("customer_email", "")
        in_chat = answered_in_chat(conversation.channel)  # no address to ask for
        step = "message" if email or in_chat else "email"
        draft = LeaveDraft(step=step, email=email, reason=reason, detail=detail)
        conversation = await self.conversations.start_leaving(conversation, draft)
        # Closed; open with everyone busy (a long wait); or open with nobody online.
        intro = (
            "leave_message_closed"
            if closed
            else "leave_message_busy"
            if await self.waits.anyone_online()
            else "leave_message_offline"
        )
        if intro != "leave_message_closed":
            intro = self._where(conversation, intro)
        ask = "leave_message_ask_message" if step == "message" else "leave_message_ask_email"
        text = (
            self._say(conversation, intro, **self._when(conversation))
            + " "
            + self._say(conversation, ask, email="" if in_chat else email)
        )
        await self._send(conversation, text)

    async def answer(self, inbound: Inbound, conversation: Conversation) -> dict[str, str] | None:
        """Take the customer's answer; returns the case fields once the message is complete."""
        text = inbound.bot_text.strip()
        if conversation.state is not State.LEAVING_MESSAGE:
            return None
        if text == CANCEL_REQUEST:
            conversation = await self.conversations.stop_leaving(conversation)
            await self._send(
                conversation, self._say(conversation, "leave_message_cancelled"), cancel=False
            )
            return None
        if conversation.leave.step == "email":
            if not valid_email(text):
                await self._send(conversation, self._say(conversation, "leave_message_bad_email"))
                return None
            conversation = await self.conversations.leaving_email(conversation, text)
            await self._send(
                conversation, self._say(conversation, "leave_message_ask_message", email=text)
            )
            return None
        message = inbound.text.strip()[:MAX_MESSAGE]
        via = {"answer_via": conversation.channel} if answered_in_chat(conversation.channel) else {}
        return {
            **via,
            "email": conversation.leave.email,
            "message": message,
            "reason": conversation.leave.reason,
            "reason_detail": conversation.leave.detail,
            **self.promise(conversation),
        }

    def promise(self, conversation: Conversation) -> dict[str, str]:
        """What a message left now is promised (kept on its case): the reply time as the
        customer read it, the same as a timestamp, and when it was left."""
        when = self._when(conversation)
        return {
            "promised_reply_by": when["reply_by"],
            "promised_reply_at": when["reply_at"],
            "left_at": f"{self.waits.clock():.3f}",
        }
