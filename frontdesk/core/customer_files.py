"""A customer's photo or file: kept on the conversation and its case, never sent to the bot.

While an agent has the conversation the file goes to them like any message. Otherwise the bot
cannot look at it, so the gateway says honestly what happened to it: attached to the request a
person will take (queued), added to the message left for an e-mail answer, or kept with the
conversation, with an offer of a person. A case created later (a handoff, a left message) takes
the files of its topic with it: they are on the agent's card ("Photos and files")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from frontdesk.core.conversation import REQUEST_PERSON, Conversation, State
from frontdesk.core.events import CaseUpdated, EventBus
from frontdesk.core.handoff import Handoff
from frontdesk.core.kept_files import FIELD, kept
from frontdesk.core.messages import Outbound, QuickReply
from frontdesk.core.outbox import Outbox
from frontdesk.core.templates import Templates
from frontdesk.store.base import CaseStore, Store

MAX_KEPT = 50
_CASE_STATES = (State.QUEUED, State.AGENT, State.LEFT_MESSAGE)


class CustomerFiles:
    def __init__(
        self,
        store: Store,
        cases: CaseStore,
        handoff: Handoff,
        outbox: Outbox,
        templates: Templates,
        bus: EventBus,
    ) -> None:
        self.store = store
        self.cases = cases
        self.handoff = handoff
        self.outbox = outbox
        self.templates = templates
        self.bus = bus

    async def received(self, conversation: Conversation, entry: Mapping[str, Any]) -> bool:
        """Keep the file (entry: the stored customer entry, with seq); True when it was
        relayed to the agent who has the conversation."""
        attachment = {**entry["attachment"], "seq": entry.get("seq"), "ts": entry.get("ts")}
        await self._keep(conversation, attachment)
        if conversation.state is State.AGENT:
            await self.handoff.to_agent(conversation, entry)
            return True
        language = conversation.language
        image = str(attachment.get("type", "")).startswith("image/")
        what = self.templates.render(language, "attachment_photo" if image else "attachment_file")
        replies: tuple[QuickReply, ...] = ()
        if conversation.state is State.QUEUED:
            key = "attachment_kept_queued"
        elif conversation.state is State.LEFT_MESSAGE:
            key = "attachment_kept_message"
        elif conversation.state is State.BOT:
            key = "attachment_kept_offer"
            title = self.templates.render(language, "button_talk_to_person")
            replies = (QuickReply(title, REQUEST_PERSON),)
        else:  # answering the survey, or leaving a message: kept for the next case
            key = "attachment_kept"
        text = self.templates.render(language, key, what=what)
        await self.outbox.send(conversation.id, conversation.channel, Outbound(text, replies))
        return False

    async def _keep(self, conversation: Conversation, attachment: dict[str, Any]) -> None:
        raw = await self.store.get_conversation(conversation.id)
        files = [*kept(raw), attachment][-MAX_KEPT:]
        await self.store.update_conversation(
            conversation.id, {FIELD: json.dumps(files, ensure_ascii=False)}
        )
        if not conversation.case_id or conversation.state not in _CASE_STATES:
            return
        case = await self.cases.get(conversation.case_id)
        if not case:
            return
        on_case = [*kept(case), attachment][-MAX_KEPT:]
        await self.cases.update(case["id"], {FIELD: json.dumps(on_case, ensure_ascii=False)})
        agent = case.get("agent", "") if case.get("state") == "agent" else ""
        await self.bus.publish(CaseUpdated(case["id"], conversation.id, agent))
