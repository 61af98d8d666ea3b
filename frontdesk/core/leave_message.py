"""Outside hours (or with nobody online) a request for a person becomes "leave a message":
an e-mail address, the message, a stated reply time, and a case agents see first."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping

from frontdesk.core.messages import Inbound, Outbound, QuickReply
from frontdesk.core.outbox import Outbox
from frontdesk.core.templates import Templates
from frontdesk.core.waits import Waits
from frontdesk.store.base import Store

CANCEL = "/fd_cancel_handoff"
EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
MAX_MESSAGE = 4000


def valid_email(text: str) -> bool:
    return len(text) <= 254 and EMAIL.match(text) is not None


class LeaveMessage:
    def __init__(self, store: Store, outbox: Outbox, templates: Templates, waits: Waits) -> None:
        self.store = store
        self.outbox = outbox
        self.templates = templates
        self.waits = waits

    async def _send(self, meta: Mapping[str, str], text: str, cancel: bool = True) -> None:
        buttons = (
            (QuickReply(self.templates.say(meta, "button_never_mind"), CANCEL),) if cancel else ()
        )
        await self.outbox.send(meta["id"], meta.get("channel", "widget"), Outbound(text, buttons))

    async def confirm(self, meta: Mapping[str, str], fields: Mapping[str, str]) -> None:
        """Tell the customer their message is saved (once it is: the case exists)."""
        when = self._when(meta)
        text = self.templates.say(meta, "leave_message_done", email=fields["email"], **when)
        await self._send(meta, text, cancel=False)

    def _when(self, meta: Mapping[str, str]) -> dict[str, str]:
        return self.waits.reopening(meta.get("language", self.templates.default_language))

    async def start(self, meta: Mapping[str, str], reason: str, detail: str) -> None:
        closed = not self.waits.is_open()
        email = json.loads(meta.get("captured") or "{}").get("email", "")
        step = "message" if email else "email"
        await self.store.update_conversation(
            meta["id"],
            {
                "state": "leave_message",
                "lm_step": step,
                "lm_email": email,
                "lm_reason": reason,
                "lm_detail": detail,
            },
        )
        intro = "leave_message_closed" if closed else "leave_message_offline"
        ask = "leave_message_ask_message" if email else "leave_message_ask_email"
        text = (
            self.templates.say(meta, intro, **self._when(meta))
            + " "
            + self.templates.say(meta, ask, email=email)
        )
        await self._send(meta, text)

    async def answer(self, inbound: Inbound, meta: Mapping[str, str]) -> dict[str, str] | None:
        """Take the customer's answer; returns the case fields once the message is complete."""
        text = inbound.bot_text.strip()
        if text == CANCEL:
            await self.store.update_conversation(meta["id"], {"state": "bot", "lm_step": ""})
            await self._send(
                meta, self.templates.say(meta, "leave_message_cancelled"), cancel=False
            )
            return None
        if meta.get("lm_step") == "email":
            if not valid_email(text):
                await self._send(meta, self.templates.say(meta, "leave_message_bad_email"))
                return None
            await self.store.update_conversation(
                meta["id"], {"lm_step": "message", "lm_email": text}
            )
            await self._send(
                meta, self.templates.say(meta, "leave_message_ask_message", email=text)
            )
            return None
        message = inbound.text.strip()[:MAX_MESSAGE]
        when = self._when(meta)
        return {
            "kind": "message",
            "email": meta.get("lm_email", ""),
            "message": message,
            "reason": meta.get("lm_reason", "customer_asked"),
            "reason_detail": meta.get("lm_detail", ""),
            "promised_reply_by": when["reply_by"],
            "left_at": f"{time.time():.3f}",
        }
