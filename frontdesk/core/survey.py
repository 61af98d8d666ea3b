"""After an agent closes: one satisfaction question, one effort question, an optional comment."""

from __future__ import annotations

import re
from collections.abc import Mapping

from frontdesk.core.messages import Inbound, Outbound, QuickReply
from frontdesk.core.outbox import Outbox
from frontdesk.core.templates import Templates
from frontdesk.store.base import Store
from frontdesk.store.cases import CaseStore

STEPS = ("csat", "effort", "comment")
SKIP = "/fd_survey_skip"
_SCORE = re.compile(r"^(?:/fd_(?:csat|effort):)?\s*([1-5])\s*$")


class Survey:
    def __init__(
        self, store: Store, cases: CaseStore, outbox: Outbox, templates: Templates
    ) -> None:
        self.store = store
        self.cases = cases
        self.outbox = outbox
        self.templates = templates

    async def _ask(self, meta: Mapping[str, str], step: str) -> None:
        if step == "comment":
            buttons: tuple[QuickReply, ...] = (
                QuickReply(self.templates.say(meta, "button_no_thanks"), SKIP),
            )
        else:
            buttons = tuple(QuickReply(str(n), f"/fd_{step}:{n}") for n in range(1, 6))
        text = self.templates.say(meta, f"survey_{step}")
        await self.outbox.send(meta["id"], meta.get("channel", "widget"), Outbound(text, buttons))

    async def start(self, meta: Mapping[str, str]) -> None:
        await self.store.update_conversation(meta["id"], {"state": "survey", "survey_step": "csat"})
        await self._ask(meta, "csat")

    async def answer(self, inbound: Inbound, meta: Mapping[str, str]) -> bool:
        """Take a survey answer; False when the message is not one (it goes to the bot)."""
        step = meta.get("survey_step", "")
        case_id = meta.get("case_id", "")
        text = inbound.bot_text.strip()
        if step in ("csat", "effort"):
            match = _SCORE.match(text)
            if match is None:
                if text.startswith("/fd_"):
                    await self.outbox.send(
                        meta["id"],
                        meta.get("channel", "widget"),
                        Outbound(self.templates.say(meta, "survey_pick_score")),
                    )
                    return True
                await self._finish(meta)  # the customer moved on: the bot takes the message
                return False
            await self.cases.update(case_id, {step: match.group(1)})
            self.outbox.metrics.survey.labels(step, match.group(1)).inc()
            following = STEPS[STEPS.index(step) + 1]
            await self.store.update_conversation(meta["id"], {"survey_step": following})
            await self._ask(meta, following)
            return True
        if step == "comment":
            if text != SKIP:
                await self.cases.update(case_id, {"comment": inbound.text[:2000]})
            await self._finish(meta)
            await self.outbox.send(
                meta["id"],
                meta.get("channel", "widget"),
                Outbound(self.templates.say(meta, "survey_thanks")),
            )
            return True
        return False

    async def _finish(self, meta: Mapping[str, str]) -> None:
        last = await self.store.last_seq(meta["id"])
        await self.store.update_conversation(
            meta["id"],
            {"state": "bot", "survey_step": "", "case_id": "", "segment_start": str(last + 1)},
        )
