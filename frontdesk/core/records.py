"""The conversation model's records: its states, the control payloads buttons send, the FAQ
areas, and the typed `Conversation` and `Case` read from the store. The one place a state
changes is `Conversations` (core/conversation.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


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
