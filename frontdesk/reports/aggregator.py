"""Turns the core's domain events into the reports' per-day counters (reports/store.py).

It subscribes to the bus like the console and the metrics do; core never calls it. Counts are
written to Redis as they happen, so reports survive restarts and add up over every gateway
process (each process counts the events that happen in it). An event that happens while Redis
is away is counted once it is back, once (deferral.py); it counts on the day it is counted.

**A conversation**, in the reports, is a *contact*: a conversation in which the customer asked
the bot something (it answered from the FAQ, or declined) or asked for a person, counted once
until it has been quiet for CONTACT_GAP; it belongs to the business day it started on. A widget
opened and never used, or a contact that was only "hi"/"thanks", is not one (it is counted as
`opened`, a new conversation, when the conversation is first created).

- **answered**: contacts with at least one FAQ answer from the bot;
- **contained**: answered, and no handoff and no left message in the contact;
- **handoff**: contacts with a request for a person (queued, or a message left), once per
  contact, by the reason attributed below.

**Handoff reasons.** The core's reason wins when it is specific: `topic` (a topic rule) and
`complaint`; the core's `not_understood` counts as `bot_failed`. A plain request
(`customer_asked` — also what the "Talk to a person" button sends) is attributed to what the
bot did last in the contact before it:
  - the customer rated an answer "no, that didn't answer it"  -> `not_answered`;
  - the bot declined the last message (did not understand it — twice in a row is when it offers
    a person — or was not sure of its answer)                  -> `bot_failed`;
  - otherwise (answered, or nothing yet)                         -> `customer_asked`.

**Cases** (one per handoff) count on the day they were requested, in the cell of the case's
channel, language and area, and of the agent concerned: the agent who took it (time in queue,
quote kept), who replied first (first response time), who closed it (closed, tags, survey).
Time in queue is `joined_at - requested_at` of live cases taken by an agent; the first quote was
kept when that wait was at most the quote's upper end (a customer who cancelled after the upper
end counts as a quote broken; one who cancelled earlier, as neither). A left message is answered
when an agent answers it (by e-mail: `answered_at`, or in the chat: `first_reply_at`), counted
once; in time when that answer is no later than the reply time promised to the customer. One
closed without a reply in frontdesk is counted apart (`msg_closed`: the console tells agents
without e-mail set up to answer from their own mailbox, then close).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from frontdesk.core.conversation import Conversation
from frontdesk.core.events import (
    AgentReplied,
    AnswerRated,
    BotAnswered,
    BotDeclined,
    CaseAssigned,
    CaseCancelled,
    CaseClosed,
    CaseQueued,
    ConversationOpened,
    EventBus,
    MessageLeft,
    SlaBreached,
    SurveyAnswered,
    SurveyCommented,
)
from frontdesk.reports import buckets
from frontdesk.reports.contacts import Contacts
from frontdesk.reports.deferral import Deferral
from frontdesk.reports.sla import SlaCounts
from frontdesk.reports.store import Batch, Dims, ReportStore
from frontdesk.reports.unanswered import Unanswered
from frontdesk.store.base import CaseStore, Store
from frontdesk.store.util import redis_errors, text

log = logging.getLogger(__name__)

CASE_GUARD_SECONDS = 90 * 86_400


def area_of(answer_id: str) -> str:
    return answer_id.split("/", 1)[0]


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class Aggregator:
    def __init__(
        self,
        redis: Redis,
        reports: ReportStore,
        cases: CaseStore,
        store: Store,
        unanswered: Unanswered,
        zone: ZoneInfo,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.reports = reports
        self.cases = cases
        self.store = store
        self.unanswered = unanswered
        self.zone = zone
        self.clock = clock
        self.contacts = Contacts(redis, lambda: self.day_of(self.clock()))
        self.deferral = Deferral()
        self.sla = SlaCounts(redis, reports, cases, zone, clock)  # met/missed (reports/sla.py)

    def subscribe(self, bus: EventBus) -> None:
        """Every event is counted when it happens, or once Redis is back (deferral.py); off the
        path of whatever published it (the bot's answer is not kept waiting for the counts):
        Reports reads them after `bus.settled()`."""
        guard = self.deferral.guard
        bus.subscribe(ConversationOpened, guard(self.opened), background=True)
        bus.subscribe(BotAnswered, guard(self.answered), background=True)
        bus.subscribe(BotDeclined, guard(self.declined), background=True)
        bus.subscribe(AnswerRated, guard(self.rated), background=True)
        bus.subscribe(CaseQueued, guard(self.queued), background=True)
        bus.subscribe(MessageLeft, guard(self.message_left), background=True)
        bus.subscribe(CaseCancelled, guard(self.cancelled), background=True)
        bus.subscribe(CaseAssigned, guard(self.assigned), background=True)
        bus.subscribe(AgentReplied, guard(self.replied), background=True)
        bus.subscribe(CaseClosed, guard(self.closed), background=True)
        bus.subscribe(SurveyAnswered, guard(self.surveyed), background=True)
        bus.subscribe(SurveyCommented, guard(self.commented), background=True)
        bus.subscribe(AgentReplied, guard(self.sla.replied), background=True)
        bus.subscribe(CaseClosed, guard(self.sla.closed), background=True)
        bus.subscribe(SlaBreached, guard(self.sla.breached), background=True)

    def _id(self, event_id: str) -> str:
        """The event's id (handlers called directly, without one, get a new one)."""
        return event_id or self.deferral.new_id()

    def day_of(self, moment: float) -> str:
        return dt.datetime.fromtimestamp(moment, self.zone).date().isoformat()

    # -- the bot's side ---------------------------------------------------------------------------

    async def opened(self, event: ConversationOpened, event_id: str = "") -> None:
        event_id = self._id(event_id)
        batch = Batch()
        batch.add(self.day_of(self.clock()), Dims(event.channel, event.language), "opened")
        await self.reports.write(batch, event_id)

    async def answered(self, event: BotAnswered, event_id: str = "") -> None:
        event_id = self._id(event_id)
        batch = Batch()
        area = area_of(event.answer_id)
        contact, first = await self.contacts.current(
            event.conversation_id,
            event.channel,
            event.language,
            batch,
            event_id,
            area,
            answered=True,
        )
        if first:
            batch.add(contact.day, contact.dims, "answered")
            if not contact.saw("answered"):  # no handoff before it: contained, until one
                batch.add(contact.day, contact.dims, "contained")
        dims = Dims(event.channel, event.language, area)
        batch.add(contact.day, dims, "bot_answers")
        batch.add(contact.day, dims, f"answer:{event.answer_id}")
        await asyncio.gather(
            self.contacts.set(contact, last="answered"), self.reports.write(batch, event_id)
        )

    async def declined(self, event: BotDeclined, event_id: str = "") -> None:
        event_id = self._id(event_id)
        batch = Batch()
        contact, _ = await self.contacts.current(
            event.conversation_id, event.channel, event.language, batch, event_id
        )
        batch.add(contact.day, contact.dims, f"declined:{event.why}")
        await asyncio.gather(
            self.contacts.set(contact, last="declined"), self.reports.write(batch, event_id)
        )
        await self.unanswered.add(
            conversation_id=event.conversation_id,
            seq=event.seq,
            text=event.text,
            guess=event.guess,
            confidence=event.confidence,
            why=event.why,
            channel=event.channel,
            language=event.language,
        )

    async def rated(self, event: AnswerRated, event_id: str = "") -> None:
        event_id = self._id(event_id)
        contact = await self.contacts.existing(event.conversation_id)
        if contact is not None:
            channel, language, day = contact.channel, contact.language, contact.day
        else:
            raw = await self.store.get_conversation(event.conversation_id)
            conversation = Conversation.from_fields(event.conversation_id, raw, "")
            channel, language = conversation.channel, conversation.language
            day = self.day_of(self.clock())
        batch = Batch()
        verdict = "yes" if event.helpful else "no"
        dims = Dims(channel, language, area_of(event.answer_id))
        batch.add(day, dims, f"rated_{verdict}")
        batch.add(day, dims, f"rated_{verdict}:{event.answer_id}")
        await self.reports.write(batch, event_id)
        if contact is not None:
            await self.contacts.set(contact, last="answered" if event.helpful else "rated_no")
        if not event.helpful:
            await self._unanswered_rating(event, channel, language)

    async def _unanswered_rating(self, event: AnswerRated, channel: str, language: str) -> None:
        """The customer's words the rated answer answered: the last customer message before it."""
        start = max(0, event.seq - 20)
        entries = await self.store.history(event.conversation_id, after_seq=start, limit=20)
        rated = next((e for e in entries if e.get("seq") == event.seq), {})
        asked = [
            e for e in entries if e.get("role") == "customer" and int(e.get("seq", 0)) < event.seq
        ]
        if not asked:
            return
        question = asked[-1]
        await self.unanswered.add(
            conversation_id=event.conversation_id,
            seq=int(question.get("seq", 0)),
            text=str(question.get("text", "")),
            guess=event.answer_id,
            confidence=float(rated.get("answer_confidence") or 0),
            why="rated_no",
            channel=channel,
            language=language,
        )

    # -- cases ------------------------------------------------------------------------------------

    async def _case(self, case_id: str) -> dict[str, str]:
        return await self.cases.get(case_id)

    def _case_day(self, case: dict[str, str]) -> str:
        return self.day_of(_float(case.get("requested_at")) or self.clock())

    @staticmethod
    def _case_dims(case: dict[str, str], agent: str = "") -> Dims:
        return Dims(case.get("channel", ""), case.get("language", ""), case.get("area", ""), agent)

    async def _requested(self, case: dict[str, str], metric: str, event_id: str) -> None:
        batch = Batch()
        contact, _ = await self.contacts.current(
            case.get("conversation_id", ""),
            case.get("channel", ""),
            case.get("language", ""),
            batch,
            event_id,
            area=case.get("area", ""),
        )
        await self.contacts.hand_off(contact, case.get("reason", ""), batch, event_id)
        batch.add(self._case_day(case), self._case_dims(case), metric)
        await self.reports.write(batch, event_id)

    async def queued(self, event: CaseQueued, event_id: str = "") -> None:
        event_id = self._id(event_id)
        case = await self._case(event.case_id)
        if case:
            await self._requested(case, "cases", event_id)

    async def message_left(self, event: MessageLeft, event_id: str = "") -> None:
        event_id = self._id(event_id)
        case = await self._case(event.case_id)
        if case:
            await self._requested(case, "msg_left", event_id)

    async def cancelled(self, event: CaseCancelled, event_id: str = "") -> None:
        event_id = self._id(event_id)
        case = await self._case(event.case_id)
        if not case or case.get("kind") == "message":
            return
        batch = Batch()
        day, dims = self._case_day(case), self._case_dims(case)
        batch.add(day, dims, "abandoned")
        waited = (_float(case.get("closed_at")) or self.clock()) - (
            _float(case.get("requested_at")) or self.clock()
        )
        if event.abandoned:  # the page was gone too long (core/abandon.py): time to abandon
            batch.add(day, dims, "left_line")
            batch.add(day, dims, f"abandon_b:{buckets.bucket_of(max(0.0, waited))}")
        quote_high = _float(case.get("quote_high"))
        if quote_high is not None and waited > quote_high:
            batch.add(day, dims, "quoted")  # a quote broken: they waited longer, then gave up
        await self.reports.write(batch, event_id)

    async def assigned(self, event: CaseAssigned, event_id: str = "") -> None:
        event_id = self._id(event_id)
        if not event.waiting:
            return  # a left message taken up: counted when it is answered
        case = await self._case(event.case_id)
        requested, joined = _float(case.get("requested_at")), _float(case.get("joined_at"))
        if requested is None or joined is None:
            return
        batch = Batch()
        day, dims = self._case_day(case), self._case_dims(case, event.agent)
        waited = joined - requested
        batch.add(day, dims, "assigned")
        batch.add(day, dims, f"queue_b:{buckets.bucket_of(waited)}")
        quote_high = _float(case.get("quote_high"))
        if quote_high is not None:
            batch.add(day, dims, "quoted")
            if waited <= quote_high:
                batch.add(day, dims, "quote_kept")
        await self.reports.write(batch, event_id)

    async def replied(self, event: AgentReplied, event_id: str = "") -> None:
        event_id = self._id(event_id)
        if event.first_reply_seconds is None:
            return
        case = await self._case(event.case_id)
        if not case:
            return
        batch = Batch()
        day, dims = self._case_day(case), self._case_dims(case, event.agent)
        if case.get("kind") == "message":
            await self._message_answered(case, day, dims, batch, event_id)
        else:
            batch.add(day, dims, "first_replies")
            batch.add(day, dims, f"frt_b:{buckets.bucket_of(event.first_reply_seconds)}")
        await self.reports.write(batch, event_id)

    async def _message_answered(
        self, case: dict[str, str], day: str, dims: Dims, batch: Batch, event_id: str
    ) -> None:
        """A left message answered (by e-mail, or in the chat), counted once: by the event that
        set the case's mark (every time that event is handled)."""
        times = [_float(case.get(k)) for k in ("answered_at", "first_reply_at")]
        answered = [t for t in times if t is not None]
        if not answered:
            if case.get("closed_without_reply") and case.get("state") == "closed":
                batch.add(day, dims, "msg_closed")  # perhaps answered from a mailbox of theirs
            return
        key = f"fd:rep:answered:{case.get('id', '')}"
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(key, event_id, nx=True, ex=CASE_GUARD_SECONDS)
                pipe.get(key)
                _, setter = await pipe.execute()
        if setter is None or text(setter) != event_id:
            return
        batch.add(day, dims, "msg_answered")
        promised = _float(case.get("promised_reply_at"))
        if promised is None or min(answered) <= promised:
            batch.add(day, dims, "msg_in_time")

    async def closed(self, event: CaseClosed, event_id: str = "") -> None:
        event_id = self._id(event_id)
        case = await self._case(event.case_id)
        if not case:
            return
        batch = Batch()
        day, dims = self._case_day(case), self._case_dims(case, event.agent)
        batch.add(day, dims, "closed")
        for tag in _tags(case.get("tags")):
            batch.add(day, dims, f"tag:{tag}")
        if case.get("kind") == "message":
            await self._message_answered(case, day, dims, batch, event_id)
        await self.reports.write(batch, event_id)

    async def surveyed(self, event: SurveyAnswered, event_id: str = "") -> None:
        event_id = self._id(event_id)
        if event.step not in ("csat", "effort") or event.score not in ("1", "2", "3", "4", "5"):
            return
        case = await self._case(event.case_id)
        if not case:
            return
        batch = Batch()
        dims = self._case_dims(case, case.get("agent", ""))
        batch.add(self._case_day(case), dims, f"{event.step}:{event.score}")
        await self.reports.write(batch, event_id)

    async def commented(self, event: SurveyCommented, event_id: str = "") -> None:
        event_id = self._id(event_id)
        case = await self._case(event.case_id)
        if case:
            await self.reports.add_comment(self._case_day(case), event.case_id)


def _tags(raw: str | None) -> list[str]:
    try:
        value: Any = json.loads(raw or "[]")
    except ValueError:
        return []
    return [str(t) for t in value] if isinstance(value, list) else []
