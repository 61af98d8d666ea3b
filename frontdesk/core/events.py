"""Domain events, and the in-process bus they travel on.

Core publishes what happened (a case was queued, an agent took it, the customer said
something to their agent…); listeners — the agent console, the wait watcher, auto-assignment,
metrics — subscribe instead of being called. A listener that fails is logged and does not stop
the others or the change that published the event.

Events are handled in the gateway process where they happen. Their effects reach customers and
agents connected to other gateway processes through the Socket.IO Redis manager (SOCKETIO_REDIS),
which carries every emit to every process.

A listener nobody waits for (the reports' counters) subscribes with `background=True`: it is
called after `publish` returns, off the path of the reply that published the event, by one
task per bus that handles the background listeners' events one at a time in the order they
were published (a rating published after an answer is counted after it). That task starts
BACKGROUND_DELAY after the first event of a quiet spell, so the reply that published it is
sent, stored and finished before the listeners compete with it for the process and for Redis;
once started it handles everything queued, then stops. The queue is bounded
(MAX_BACKGROUND): when it is full, `publish` waits for room; nothing is dropped. Whoever needs
what a background listener did (a report read, an erasure, a test, shutdown) first awaits
`settled()`: every event published before the call has then been handled.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
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
    """Passed from `source` to `target`: by the source (transfer), or taken over by the target
    (`taken_over`: the source did not choose it)."""

    case_id: str
    conversation_id: str
    source: str
    target: str
    taken_over: bool = False


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
    """The customer typing, or stopped; `draft`: what they have typed so far (frontdesk's
    widget, while flows/handoff.yml show_customer_draft is on; never stored)."""

    conversation_id: str
    case_id: str
    agent: str
    typing: bool
    draft: str | None = None


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
class SlaBreached(Event):
    """A case's service-level target passed with nothing done (flows/sla.yml): published once
    per case and target, by whichever gateway process noticed it first (core/sla_watch.py).
    target: "first_response" | "resolution"; agent: who holds the case ("" while waiting)."""

    case_id: str
    conversation_id: str
    target: str
    due_at: float
    agent: str = ""


@dataclass(frozen=True)
class CustomerPresence(Event):
    """The customer opened (online) or closed (not online) the last page showing the chat."""

    conversation_id: str
    online: bool


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None]]

MAX_BACKGROUND = 10_000  # events waiting for background listeners before publish waits
BACKGROUND_DELAY = 0.02  # seconds from a quiet bus's first background event to its handling


class EventBus:
    def __init__(
        self, max_background: int = MAX_BACKGROUND, background_delay: float = BACKGROUND_DELAY
    ) -> None:
        # Per kind: (handler, background) in subscription order.
        self._handlers: dict[type[Event], list[tuple[Handler, bool]]] = {}
        self._max_background = max_background
        self._delay = background_delay
        self._queue: deque[tuple[Handler, Event] | asyncio.Future[None]] = deque()
        self._room: asyncio.Event | None = None  # set when the drain takes one off a full queue
        self._worker: asyncio.Task[None] | None = None

    def subscribe(
        self, kind: type[E], handler: Callable[[E], Awaitable[None]], background: bool = False
    ) -> None:
        """`background`: called after `publish` returns, in publish order (see the module)."""
        self._handlers.setdefault(kind, []).append((handler, background))

    async def publish(self, event: Event) -> None:
        """Call the event's listeners in subscription order; background ones are queued at
        their turn (so an event a listener publishes meanwhile keeps the order it had)."""
        for handler, background in self._handlers.get(type(event), ()):
            if background:
                await self._enqueue(handler, event)
                continue
            try:
                await handler(event)
            except Exception:
                log.exception("listener %r failed on %s", handler, type(event).__name__)

    @property
    def busy(self) -> bool:
        """Background listeners have events to handle (or are handling one)."""
        return self._worker is not None and not self._worker.done()

    def __len__(self) -> int:
        """Events waiting for a background listener."""
        return sum(1 for item in self._queue if not isinstance(item, asyncio.Future))

    async def settled(self) -> None:
        """Return once every event published before this call has been handled by its
        background listeners (at once if none waits). A background listener that calls it
        does not wait for itself."""
        if not self.busy or asyncio.current_task() is self._worker:
            return
        marker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(marker)  # never refused: it takes no work
        await asyncio.shield(marker)

    async def _enqueue(self, handler: Handler, event: Event) -> None:
        # The drain's own listeners never wait for room: they would wait for themselves.
        while len(self._queue) >= self._max_background and self.busy:
            if asyncio.current_task() is self._worker:
                break
            if self._room is None:
                self._room = asyncio.Event()
            self._room.clear()
            await self._room.wait()
        self._queue.append((handler, event))
        if not self.busy:
            self._worker = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        if self._delay > 0:
            await asyncio.sleep(self._delay)
        while self._queue:
            item = self._queue.popleft()
            if self._room is not None:
                self._room.set()
            if isinstance(item, asyncio.Future):
                if not item.done():
                    item.set_result(None)
                continue
            handler, event = item
            try:
                await handler(event)
            except Exception:
                log.exception("listener %r failed on %s", handler, type(event).__name__)
