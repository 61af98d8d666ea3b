"""'Did this answer your question?': the customer's yes/no on one FAQ answer.

The answer being rated is read from the transcript by its seq (never taken from the client), the
rating is kept with the conversation (`rating:<seq>` = `<answer_id> yes|no`) and counted in
/metrics; a "no" offers a person at once, so an unhelpful answer is never a dead end.
"""

from __future__ import annotations

from frontdesk.core.conversation import REQUEST_PERSON, Conversations
from frontdesk.core.events import AnswerRated, EventBus
from frontdesk.core.messages import Outbound, QuickReply
from frontdesk.core.outbox import Outbox
from frontdesk.core.templates import Templates
from frontdesk.errors import BadInput
from frontdesk.store.base import Store


class AnswerRatings:
    def __init__(
        self,
        conversations: Conversations,
        store: Store,
        outbox: Outbox,
        templates: Templates,
        bus: EventBus,
    ) -> None:
        self.conversations = conversations
        self.store = store
        self.outbox = outbox
        self.templates = templates
        self.bus = bus

    async def rate(self, conversation_id: str, seq: int, helpful: bool) -> str:
        """Record the rating of the answer at `seq`; returns its answer id. Rating the same
        answer again replaces the earlier rating (and is counted once)."""
        # The transcript's entries from `seq` on (a history read keeps the newest `limit`
        # entries after `after_seq`: limit=1 would be the last message, not the one rated).
        last = await self.store.last_seq(conversation_id)
        entries = await self.store.history(conversation_id, seq - 1, max(1, last - seq + 1))
        entry = entries[0] if entries else {}
        answer_id = entry.get("answer_id")
        if entry.get("seq") != seq or not isinstance(answer_id, str):
            raise BadInput("bad_request", "seq does not name an answer of this conversation")
        field = f"rating:{seq}"
        meta = await self.store.get_conversation(conversation_id)
        value = f"{answer_id} {'yes' if helpful else 'no'}"
        if meta.get(field) == value:
            return answer_id
        await self.store.update_conversation(conversation_id, {field: value})
        if field not in meta:
            await self.bus.publish(AnswerRated(answer_id, helpful, conversation_id, seq))
        if not helpful:
            conversation = await self.conversations.get(conversation_id)
            language = conversation.language
            button = QuickReply(
                self.templates.render(language, "button_talk_to_person"), REQUEST_PERSON
            )
            text = self.templates.render(language, "answer_not_helpful")
            await self.outbox.send(conversation_id, conversation.channel, Outbound(text, (button,)))
        return answer_id
