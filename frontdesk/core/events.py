"""Domain events, and the in-process bus they travel on.

Core publishes what happened (a case was queued, an agent took it, the customer said
something to their agent…); listeners — the agent console, the wait watcher, auto-assignment,
metrics — subscribe instead of being called. A listener that fails is logged and does not stop
the others or the change that published the event.

Events are handled in the gateway process where they happen. Their effects reach customers and
agents connected to other gateway processes through the Socket.IO Redis manager (SOCKETIO_REDIS),
which carries every emit to every process.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base of every domain event."""


@dataclass(frozen=True)
class CaseQueued(Event):
    case_id: str
    conversation_id: str
    reason: str


@dataclass(frozen=True)
class CaseCancelled(Event):
    """The customer stopped waiting (cancelled, or left a message instead), or left the line
    without a word (`abandoned`: their page was gone for ABANDON_AFTER; waited: seconds)."""

    case_id: str
    conversation_id: str
    abandoned: bool = False
    waited: float = 0.0


@dataclass(frozen=True)
class CaseAssigned(Event):
    case_id: str
    conversation_id: str
    agent: str
    agent_name: str
    waiting: bool = True  # the customer was in the live queue (not a left message)


@dataclass(frozen=True)
class CaseTransferred(Event):
    case_id: str
    conversation_id: str
    source: str
    target: str


@dataclass(frozen=True)
class CaseClosed(Event):
    case_id: str
    conversation_id: str
    agent: str


@dataclass(frozen=True)
class CaseUpdated(Event):
    """What the agent's card shows changed (the customer raised another topic while waiting)."""

    case_id: str
    conversation_id: str
    agent: str = ""


@dataclass(frozen=True)
class MessageLeft(Event):
    case_id: str
    conversation_id: str


@dataclass(frozen=True)
class CustomerSaid(Event):
    """A customer message for the agent who has the conversation."""

    conversation_id: str
    case_id: str
    agent: str
    entry: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerTyping(Event):
    conversation_id: str
    case_id: str
    agent: str
    typing: bool


@dataclass(frozen=True)
class AgentReplied(Event):
    case_id: str
    agent: str
    first_reply_seconds: float | None  # set on the case's first reply: the first response time


@dataclass(frozen=True)
class AgentsChanged(Event):
    """An agent came, went, or changed presence or load."""


@dataclass(frozen=True)
class SurveyAnswered(Event):
    case_id: str
    step: str
    score: str


@dataclass(frozen=True)
class SurveyCommented(Event):
    """The customer added a comment at the end of the survey (kept with the case)."""

    case_id: str
    comment: str


@dataclass(frozen=True)
class ConversationOpened(Event):
    """A customer's first contact on a channel."""

    conversation_id: str
    channel: str
    language: str


@dataclass(frozen=True)
class LanguageChanged(Event):
    """The conversation's language changed (the customer writes in another of ours, or the
    page says so): what the customer still reads, such as the place in line, follows it."""

    conversation_id: str
    language: str


@dataclass(frozen=True)
class BotAnswered(Event):
    """The bot gave an FAQ answer (area/question) it was sure enough of."""

    conversation_id: str
    channel: str
    language: str
    answer_id: str
    confidence: float
    seq: int  # the customer's message it answered


@dataclass(frozen=True)
class BotDeclined(Event):
    """The bot could not answer: it did not understand, or was not sure of its guess."""

    conversation_id: str
    channel: str
    language: str
    text: str  # the customer's words
    guess: str  # the answer (or intent) the bot would have picked
    confidence: float
    why: str  # "unsure" | "not_understood"
    seq: int


@dataclass(frozen=True)
class AnswerRated(Event):
    answer_id: str
    helpful: bool
    conversation_id: str = ""
    seq: int = 0  # the rated answer's seq


@dataclass(frozen=True)
class MailStatusChanged(Event):
    """The e-mail answering a left message was queued, sent, or a try failed (state queued |
    sent | retrying | failed; failed waits for an agent to retry it)."""

    case_id: str
    agent: str
    state: str
    error: str = ""
    attempts: int = 0
    next_attempt_at: float | None = None


@dataclass(frozen=True)
class CustomerPresence(Event):
    """The customer opened (online) or closed (not online) the last page showing the chat."""

    conversation_id: str
    online: bool


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler]] = {}

    def subscribe(self, kind: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        self._handlers.setdefault(kind, []).append(handler)

    async def publish(self, event: Event) -> None:
        for handler in self._handlers.get(type(event), ()):
            try:
                await handler(event)
            except Exception:
                log.exception("listener %r failed on %s", handler, type(event).__name__)
