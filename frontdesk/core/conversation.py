"""The conversation model: its states, its typed records, and the one place its state changes.

A conversation is a customer's thread on one channel. It is in exactly one `State`; every change
of state is one method of `Conversations` that checks the current state, writes once
(atomically, in the store) and publishes a domain event (frontdesk.core.events). No other module
writes the state. A `Case` is one handoff to a person, from the request to its close.

    bot ──request──> queued ──claim──> agent ──close──> survey ──done──> bot
     │                 │  └──cancel──> bot
     │                 └──leave a message──┐
     └──leave a message (closed / nobody online)──> leaving_message ──done──> left_message
                                                          └──cancel──> bot
     left_message ──answered by e-mail (or closed by the agent)──> bot

A left message is never a chat: an agent who takes it does not join the conversation (its
state stays left_message, the bot answers the customer meanwhile) and there is no in-chat
survey when it is answered (the e-mail carries a one-click satisfaction link instead).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping

from frontdesk.core.events import (
    CaseAssigned,
    CaseCancelled,
    CaseClosed,
    CaseQueued,
    CaseTransferred,
    ConversationOpened,
    EventBus,
    LanguageChanged,
    MessageLeft,
)
from frontdesk.core.records import (
    AREAS,
    CANCEL_REQUEST,
    CONTROL_PREFIX,
    DETAILS,
    KEEP_TRYING,
    LEAVE_MESSAGE,
    NO_PERSON,
    REQUEST_PERSON,
    SURVEY_SKIP,
    TOPIC_PERSON,
    UNDERSTOOD,
    Case,
    CaseKind,
    CaseState,
    Conversation,
    LeaveDraft,
    Opened,
    State,
    _replace,
    survey_score,
)
from frontdesk.errors import FrontdeskError
from frontdesk.store.base import Store

# The model's names, read from one module (the records live in core/records.py).
__all__ = [
    "AREAS",
    "CANCEL_REQUEST",
    "CONTROL_PREFIX",
    "DETAILS",
    "KEEP_TRYING",
    "LEAVE_MESSAGE",
    "NO_PERSON",
    "REQUEST_PERSON",
    "SURVEY_SKIP",
    "TOPIC_PERSON",
    "UNDERSTOOD",
    "Case",
    "CaseKind",
    "CaseState",
    "Conversation",
    "Conversations",
    "LeaveDraft",
    "Opened",
    "State",
    "TransitionRefused",
    "survey_score",
]


class TransitionRefused(FrontdeskError):
    """The conversation is not in a state this change can start from (a race, or a stale
    view): nothing was written."""


class Conversations:
    """The only writer of a conversation's state. Each method is one transition."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        default_language: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.store = store
        self.bus = bus
        self.default_language = default_language

    # -- reading and plain fields ----------------------------------------------------------------

    async def get(self, conversation_id: str) -> Conversation:
        raw = await self.store.get_conversation(conversation_id)
        return Conversation.from_fields(conversation_id, raw, self.default_language)

    async def open(
        self, conversation_id: str, channel: str, language: str, details: Mapping[str, str]
    ) -> Conversation:
        """Create the conversation on first contact; later contacts keep its language and
        refresh who the customer is."""
        return (await self.opened(conversation_id, channel, language, details)).conversation

    async def opened(
        self,
        conversation_id: str,
        channel: str,
        language: str,
        details: Mapping[str, str],
        new_fields: Mapping[str, str] | None = None,
    ) -> Opened:
        """`open`, telling also whether the conversation is new, its stored fields and its
        transcript's length: one round trip to the store. `new_fields` are set where missing
        (as every field of a new conversation), never overwritten."""
        fields = {"channel": channel, "language": language, "state": State.BOT.value}
        fields["created_at"] = f"{self.clock():.3f}"
        result = await self.store.open_conversation(
            conversation_id, {**fields, **(new_fields or {})}, details
        )
        if result.created:
            await self.bus.publish(ConversationOpened(conversation_id, channel, language))
        conversation = Conversation.from_fields(
            conversation_id, result.fields, self.default_language
        )
        return Opened(conversation, result.created, result.fields, result.messages)

    async def set_language(self, conversation: Conversation, language: str) -> Conversation:
        await self.store.update_conversation(conversation.id, {"language": language})
        if language != conversation.language:
            await self.bus.publish(LanguageChanged(conversation.id, language))
        return _replace(conversation, language=language)

    async def remember(
        self, conversation: Conversation, understood: Mapping[str, str], fallback: bool
    ) -> Conversation:
        """Keep what the bot understood of this turn (one write); count fallbacks in a row."""
        fields = {k: understood.get(k, "") for k in UNDERSTOOD if k in understood}
        updated = conversation.with_understood(fields)
        if fallback:
            await self.store.update_conversation(conversation.id, fields)
            count = await self.store.incr_field(conversation.id, "fallbacks_in_a_row")
            return _replace(updated, fallbacks_in_a_row=count)
        await self.store.update_conversation(conversation.id, {**fields, "fallbacks_in_a_row": "0"})
        return _replace(updated, fallbacks_in_a_row=0)

    async def forget_topic(self, conversation: Conversation) -> Conversation:
        """The bot was not sure: what it thought the topic was is no longer the topic."""
        cleared = {k: "" for k in ("area", "intent", "confidence", "answer_confidence")}
        await self.store.update_conversation(conversation.id, cleared)
        understood = {k: v for k, v in conversation.understood.items() if k not in cleared}
        return _replace(conversation, understood=understood)

    async def reset_fallbacks(self, conversation: Conversation) -> None:
        await self.store.update_conversation(conversation.id, {"fallbacks_in_a_row": "0"})

    # -- transitions -----------------------------------------------------------------------------

    async def _move(
        self,
        conversation: Conversation,
        allowed: tuple[State, ...],
        to: State,
        fields: Mapping[str, str],
    ) -> Conversation:
        written = {**fields, "state": to.value}
        if not await self.store.transition(conversation.id, [s.value for s in allowed], written):
            current = await self.get(conversation.id)
            raise TransitionRefused(
                f"conversation {conversation.id} is {current.state}, not one of "
                f"{', '.join(s.value for s in allowed)}: cannot become {to}"
            )
        return await self.get(conversation.id)

    async def queue(self, conversation: Conversation, case: Case) -> Conversation:
        """A person was asked for: the conversation waits in the live queue."""
        moved = await self._move(
            conversation,
            (State.BOT, State.SURVEY, State.LEFT_MESSAGE),
            State.QUEUED,
            {"case_id": case.id, "fallbacks_in_a_row": "0", "survey_step": ""},
        )
        await self.bus.publish(CaseQueued(case.id, conversation.id, case.reason))
        return moved

    async def cancel_request(self, conversation: Conversation) -> Conversation:
        """The customer no longer waits (cancelled, or chose to leave a message)."""
        moved = await self._move(conversation, (State.QUEUED,), State.BOT, {})
        await self.bus.publish(CaseCancelled(conversation.case_id, conversation.id))
        return moved

    async def abandon(
        self, conversation: Conversation, waited: float, message: Case | None = None
    ) -> Conversation:
        """The customer's page has been gone too long: out of the live line. With `message`
        (an e-mail was on file) the request became that left message; otherwise the bot has
        the conversation again when they come back."""
        fields = {"case_id": message.id} if message is not None else {}
        to = State.LEFT_MESSAGE if message is not None else State.BOT
        moved = await self._move(conversation, (State.QUEUED,), to, fields)
        await self.bus.publish(
            CaseCancelled(conversation.case_id, conversation.id, abandoned=True, waited=waited)
        )
        if message is not None:
            await self.bus.publish(MessageLeft(message.id, conversation.id))
        return moved

    async def assign(self, conversation_id: str, case_id: str, agent: str, name: str) -> None:
        """An agent took the case (the claim itself is the case store's atomic step)."""
        conversation = await self.get(conversation_id)
        await self._move(
            conversation,
            (State.QUEUED,),
            State.AGENT,
            {"case_id": case_id, "agent": agent},
        )
        await self.bus.publish(
            CaseAssigned(case_id, conversation_id, agent, name, waiting=conversation.waiting)
        )

    async def transfer(
        self,
        conversation_id: str,
        case_id: str,
        source: str,
        target: str,
        taken_over: bool = False,
    ) -> None:
        """Passed on by `source`, or (taken_over) taken by `target`."""
        conversation = await self.get(conversation_id)
        await self._move(conversation, (State.AGENT,), State.AGENT, {"agent": target})
        await self.bus.publish(
            CaseTransferred(case_id, conversation_id, source, target, taken_over)
        )

    async def close(self, conversation_id: str, case_id: str, agent: str) -> Conversation:
        """The agent closed the case: the survey follows."""
        conversation = await self.get(conversation_id)
        moved = await self._move(
            conversation, (State.AGENT,), State.SURVEY, {"agent": "", "survey_step": "csat"}
        )
        await self.bus.publish(CaseClosed(case_id, conversation_id, agent))
        return moved

    async def survey_step(self, conversation: Conversation, step: str) -> Conversation:
        return await self._move(conversation, (State.SURVEY,), State.SURVEY, {"survey_step": step})

    async def end_topic(self, conversation: Conversation) -> Conversation:
        """The survey is over (or skipped): the bot has the conversation again, and the next
        topic starts fresh (the next case is not told about this one's order or area)."""
        last = await self.store.last_seq(conversation.id)
        fields = {k: "" for k in UNDERSTOOD}
        fields.update(survey_step="", case_id="", segment_start=str(last + 1))
        return await self._move(conversation, (State.SURVEY,), State.BOT, fields)

    async def start_leaving(self, conversation: Conversation, draft: LeaveDraft) -> Conversation:
        fields = {
            "lm_step": draft.step,
            "lm_email": draft.email,
            "lm_reason": draft.reason,
            "lm_detail": draft.detail,
        }
        return await self._move(
            conversation,
            (State.BOT, State.SURVEY, State.LEFT_MESSAGE),
            State.LEAVING_MESSAGE,
            fields,
        )

    async def leaving_email(self, conversation: Conversation, email: str) -> Conversation:
        return await self._move(
            conversation,
            (State.LEAVING_MESSAGE,),
            State.LEAVING_MESSAGE,
            {"lm_step": "message", "lm_email": email},
        )

    async def stop_leaving(self, conversation: Conversation) -> Conversation:
        return await self._move(conversation, (State.LEAVING_MESSAGE,), State.BOT, {"lm_step": ""})

    async def message_left(self, conversation: Conversation, case: Case) -> Conversation:
        moved = await self._move(
            conversation,
            (State.LEAVING_MESSAGE,),
            State.LEFT_MESSAGE,
            {"lm_step": "", "case_id": case.id},
        )
        await self.bus.publish(MessageLeft(case.id, conversation.id))
        return moved

    # -- a left message, answered by e-mail (never a chat: no state change while an agent has it)

    async def message_taken(
        self, conversation_id: str, case_id: str, agent: str, name: str
    ) -> None:
        """An agent took a left message to answer by e-mail. The customer is not in a chat
        with them: the conversation stays left_message (the bot answers if they come back)."""
        await self.bus.publish(CaseAssigned(case_id, conversation_id, agent, name, waiting=False))

    async def message_passed(
        self, conversation_id: str, case_id: str, source: str, target: str
    ) -> None:
        await self.bus.publish(CaseTransferred(case_id, conversation_id, source, target))

    async def message_done(self, conversation_id: str, case_id: str, agent: str) -> None:
        """The left message was answered by e-mail (or closed): the conversation is the bot's
        again, the next topic starts fresh, and no survey follows. A conversation that has
        moved on meanwhile (the customer left another message) is left as it is."""
        conversation = await self.get(conversation_id)
        if conversation.state is State.LEFT_MESSAGE and conversation.case_id == case_id:
            last = await self.store.last_seq(conversation_id)
            fields = {k: "" for k in UNDERSTOOD}
            fields.update(case_id="", segment_start=str(last + 1), fallbacks_in_a_row="0")
            # A customer who started something else a moment ago keeps it.
            with contextlib.suppress(TransitionRefused):
                await self._move(conversation, (State.LEFT_MESSAGE,), State.BOT, fields)
        await self.bus.publish(CaseClosed(case_id, conversation_id, agent))
