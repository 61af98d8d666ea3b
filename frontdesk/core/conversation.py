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
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

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
from frontdesk.errors import FrontdeskError
from frontdesk.store.base import Store


class State(StrEnum):
    BOT = "bot"  # the bot answers
    QUEUED = "queued"  # waiting for a person (the bot still answers meanwhile)
    AGENT = "agent"  # a person has the conversation
    SURVEY = "survey"  # after the close: satisfaction and effort questions
    LEAVING_MESSAGE = "leave_message"  # nobody can take it now: e-mail, then the message
    LEFT_MESSAGE = "left_message"  # a message waits for an answer by e-mail


class CaseState(StrEnum):
    QUEUED = "queued"
    AGENT = "agent"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"  # the customer left the line without a word (core/abandon.py)


class CaseKind(StrEnum):
    LIVE = "live"  # a customer waiting in the live queue
    MESSAGE = "message"  # a message left for a reply by e-mail (never in the live queue)


# What buttons send: the control payloads, spelled once.
REQUEST_PERSON = "/human_handoff"
CANCEL_REQUEST = "/fd_cancel_handoff"
LEAVE_MESSAGE = "/fd_leave_message"
KEEP_TRYING = "/greet"
SURVEY_SKIP = "/fd_survey_skip"
TOPIC_PERSON = "/fd_topic_person"  # "yes" to "Would you like a person to look at this charge?"
NO_PERSON = "/fd_no_person"  # "no, thanks" to it
CONTROL_PREFIX = "/fd_"  # every frontdesk control starts so (a quick reply, not words)


def survey_score(step: str, score: int) -> str:
    return f"{CONTROL_PREFIX}{step}:{score}"


# The bot's FAQ areas (the Rasa intents whose answers come from a response selector).
AREAS = ("billing", "orders", "shipping", "returns", "account")
# Who the customer is, as the channel or the page told us (kept on the conversation and the case).
DETAILS = ("page_url", "customer_name", "customer_email", "customer_id", "channel_user")
# What the bot understood of the current topic (cleared when a topic ends).
UNDERSTOOD = (
    "area",
    "intent",
    "confidence",
    "answer_confidence",
    "answer_matches",
    "last_intent",
    "last_confidence",
    "last_question",
    "captured",
)


def _float(value: str | None, default: float = 0.0) -> float:
    try:
        return float(value) if value else default
    except ValueError:
        return default


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


@dataclass(frozen=True)
class LeaveDraft:
    """A message being left: which step, the e-mail so far, and why a person was wanted."""

    step: str = ""  # "email" or "message"
    email: str = ""
    reason: str = "customer_asked"
    detail: str = ""


@dataclass(frozen=True)
class Conversation:
    id: str
    channel: str = "widget"
    language: str = "en"
    state: State = State.BOT
    case_id: str = ""
    agent: str = ""
    created_at: float = 0.0
    details: dict[str, str] = field(default_factory=dict)
    understood: dict[str, str] = field(default_factory=dict)  # UNDERSTOOD fields with values
    fallbacks_in_a_row: int = 0
    segment_start: int = 1  # first transcript seq of the current topic
    survey_step: str = ""
    leave: LeaveDraft = LeaveDraft()

    @classmethod
    def from_fields(
        cls, conversation_id: str, raw: Mapping[str, str], language: str
    ) -> Conversation:
        try:
            state = State(raw.get("state") or State.BOT)
        except ValueError:
            state = State.BOT
        return cls(
            id=conversation_id,
            channel=raw.get("channel") or "widget",
            language=raw.get("language") or language,
            state=state,
            case_id=raw.get("case_id", ""),
            agent=raw.get("agent", ""),
            created_at=_float(raw.get("created_at")),
            details={k: raw[k] for k in DETAILS if raw.get(k)},
            understood={k: raw[k] for k in UNDERSTOOD if raw.get(k)},
            fallbacks_in_a_row=_int(raw.get("fallbacks_in_a_row")),
            segment_start=_int(raw.get("segment_start"), 1),
            survey_step=raw.get("survey_step", ""),
            leave=LeaveDraft(
                step=raw.get("lm_step", ""),
                email=raw.get("lm_email", ""),
                reason=raw.get("lm_reason") or "customer_asked",
                detail=raw.get("lm_detail", ""),
            ),
        )

    @property
    def captured(self) -> dict[str, str]:
        """Values the bot picked up (order number, e-mail, product)."""
        value = json.loads(self.understood.get("captured") or "{}")
        return value if isinstance(value, dict) else {}

    @property
    def area(self) -> str:
        return self.understood.get("area", "")

    @property
    def intent(self) -> str:
        return self.understood.get("intent", "")

    @property
    def last_intent(self) -> str:
        return self.understood.get("last_intent", "")

    @property
    def waiting(self) -> bool:
        return self.state is State.QUEUED and bool(self.case_id)

    def with_understood(self, fields: Mapping[str, str]) -> Conversation:
        understood = {k: v for k, v in {**self.understood, **fields}.items() if v}
        return _replace(self, understood=understood)


def _replace(conversation: Conversation, **changes: Any) -> Conversation:
    return replace(conversation, **changes)


@dataclass(frozen=True)
class Opened:
    """A conversation as a contact opened it (Conversations.opened)."""

    conversation: Conversation
    created: bool  # new: no transcript, no case, nothing to resume
    fields: dict[str, str]  # as stored (ratings and other fields the record leaves out)
    messages: int  # the transcript's length


@dataclass(frozen=True)
class Case:
    """One handoff, with the fields the core decides on; `fields` holds the whole record
    (what the bot understood, quotes, survey answers…) for the agent's card."""

    id: str
    conversation_id: str
    state: CaseState
    kind: CaseKind
    agent: str
    channel: str
    language: str
    reason: str
    reason_detail: str
    requested_at: float
    first_reply_at: float | None
    fields: dict[str, str]

    @classmethod
    def from_fields(cls, raw: Mapping[str, str]) -> Case:
        try:
            state = CaseState(raw.get("state") or CaseState.QUEUED)
        except ValueError:
            state = CaseState.CLOSED
        kind = CaseKind.MESSAGE if raw.get("kind") == CaseKind.MESSAGE else CaseKind.LIVE
        return cls(
            id=raw.get("id", ""),
            conversation_id=raw.get("conversation_id", ""),
            state=state,
            kind=kind,
            agent=raw.get("agent", ""),
            channel=raw.get("channel") or "widget",
            language=raw.get("language", ""),
            reason=raw.get("reason") or "customer_asked",
            reason_detail=raw.get("reason_detail", ""),
            requested_at=_float(raw.get("requested_at"), time.time()),
            first_reply_at=_float(raw.get("first_reply_at")) or None,
            fields=dict(raw),
        )


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
