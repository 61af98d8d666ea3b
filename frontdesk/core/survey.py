"""After an agent closes: one satisfaction question, one effort question, an optional comment."""

from __future__ import annotations

import re

from frontdesk.core.conversation import (
    CONTROL_PREFIX,
    SURVEY_SKIP,
    Conversation,
    Conversations,
    survey_score,
)
from frontdesk.core.events import EventBus, SurveyAnswered, SurveyCommented
from frontdesk.core.messages import Inbound, Outbound, QuickReply
from frontdesk.core.outbox import Outbox
from frontdesk.core.templates import Templates
from frontdesk.store.base import CaseStore

STEPS = ("csat", "effort", "comment")
_SCORE = re.compile(r"^(?:/fd_(?:csat|effort):)?\s*([1-5])\s*$")


class Survey:
    def __init__(
        self,
        conversations: Conversations,
        cases: CaseStore,
        outbox: Outbox,
        templates: Templates,
        bus: EventBus,
    ) -> None:
        self.conversations = conversations
        self.cases = cases
        self.outbox = outbox
        self.templates = templates
        self.bus = bus

    async def _say(self, conversation: Conversation, key: str, *buttons: QuickReply) -> None:
        text = self.templates.render(conversation.language, key)
        await self.outbox.send(conversation.id, conversation.channel, Outbound(text, buttons))

    async def ask(self, conversation: Conversation) -> None:
        """Ask the question of the conversation's current survey step."""
        step = conversation.survey_step or "csat"
        if step == "comment":
            skip = self.templates.render(conversation.language, "button_no_thanks")
            await self._say(conversation, "survey_comment", QuickReply(skip, SURVEY_SKIP))
            return
        scores = (QuickReply(str(n), survey_score(step, n)) for n in range(1, 6))
        await self._say(conversation, f"survey_{step}", *scores)

    async def answer(self, inbound: Inbound, conversation: Conversation) -> bool:
        """Take a survey answer; False when the message is not one (it goes to the bot)."""
        step = conversation.survey_step
        case_id = conversation.case_id
        text = inbound.bot_text.strip()
        if step in ("csat", "effort"):
            match = _SCORE.match(text)
            if match is None:
                if text.startswith(CONTROL_PREFIX):
                    await self._say(conversation, "survey_pick_score")
                    return True
                await self.conversations.end_topic(conversation)  # the customer moved on
                return False
            await self.cases.update(case_id, {step: match.group(1)})
            await self.bus.publish(SurveyAnswered(case_id, step, match.group(1)))
            following = STEPS[STEPS.index(step) + 1]
            await self.ask(await self.conversations.survey_step(conversation, following))
            return True
        if step == "comment":
            if text != SURVEY_SKIP:
                await self.cases.update(case_id, {"comment": inbound.text[:2000]})
                await self.bus.publish(SurveyCommented(case_id, inbound.text[:2000]))
            conversation = await self.conversations.end_topic(conversation)
            await self._say(conversation, "survey_thanks")
            return True
        await self.conversations.end_topic(conversation)
        return False
