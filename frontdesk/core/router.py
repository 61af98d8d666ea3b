"""Where a customer message enters the core and where it is routed.

`Router.accept` stores the message (once per client id) and schedules its turn; turns of one
conversation run in order. `Router.turn` routes by the conversation's state
(frontdesk.core.conversation.State): to the agent who has it, to the survey or the
leave-a-message steps, or to the bot, whose answer is checked (never a confident wrong answer)
and sent through the outbox, followed by the bot's markers (handoff, wait time, topic rules).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from frontdesk.core.abandon import Abandonment
from frontdesk.core.conversation import (
    CANCEL_REQUEST,
    LEAVE_MESSAGE,
    NO_PERSON,
    TOPIC_PERSON,
    Conversation,
    Conversations,
    State,
)
from frontdesk.core.customer_files import CustomerFiles
from frontdesk.core.declined import not_sure_reply
from frontdesk.core.events import BotAnswered, BotDeclined, Event
from frontdesk.core.flows import Flows
from frontdesk.core.handoff import Handoff
from frontdesk.core.language import detect
from frontdesk.core.messages import BotReply, Inbound, Outbound, customer_entry
from frontdesk.core.metrics import Metrics
from frontdesk.core.outbox import Outbox
from frontdesk.core.rasa_replies import split_replies
from frontdesk.core.survey import Survey
from frontdesk.core.templates import Templates
from frontdesk.core.turns import CURRENT, MAX_ATTEMPTS, Turns
from frontdesk.core.understanding import understanding
from frontdesk.errors import BotUnavailable, FrontdeskError
from frontdesk.store.base import Store

log = logging.getLogger(__name__)


class Bot(Protocol):
    async def send(
        self, conversation_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> BotReply: ...


ORDER_NUMBER = re.compile(r"#?\b(\d{4,8})\b")
UNSURE = "unsure_answer"
NOT_UNDERSTOOD = {"nlu_fallback", "out_of_scope", UNSURE}
# Intents that say nothing about what the customer needs (not kept as "the last question").
SMALL_TALK = {"greet", "goodbye", "thanks", "affirm", "deny", "human_handoff", "ask_wait_time"}


def unsure(understood: Mapping[str, str], min_answer_confidence: float) -> bool:
    """An FAQ answer the bot is not sure of: picked from another area, or low confidence."""
    if not understood.get("area") or min_answer_confidence <= 0:
        return False
    confidence = float(understood.get("answer_confidence") or 0)
    return understood.get("answer_matches") != "1" or confidence < min_answer_confidence


@dataclass(frozen=True)
class Accepted:
    seq: int
    duplicate: bool


class Router:
    """Decides where each customer message goes. Turns of one conversation run in order."""

    def __init__(
        self,
        conversations: Conversations,
        store: Store,
        bot: Bot,
        outbox: Outbox,
        templates: Templates,
        flows: Flows,
        handoff: Handoff,
        survey: Survey,
        metrics: Metrics,
        turns: Turns,
        typing_delay: float = 0.7,
        files: CustomerFiles | None = None,
        pages: Abandonment | None = None,
    ) -> None:
        self.pages = pages  # which waiting customers still have a page (abandonment)
        self.files = files  # photos and files: kept for a person, never sent to the bot
        self.conversations = conversations
        self.store = store
        self.bot = bot
        self.outbox = outbox
        self.templates = templates
        self.flows = flows
        self.handoff = handoff
        self.survey = survey
        self.metrics = metrics
        self.turns = turns
        self.typing_delay = typing_delay
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._pending: dict[str, int] = {}

    async def open_conversation(
        self, conversation_id: str, channel: str, language: str, details: Mapping[str, str]
    ) -> Conversation:
        """Create the conversation on first contact; later contacts keep its language."""
        return await self.conversations.open(conversation_id, channel, language, details)

    def pending_turns(self, conversation_id: str) -> int:
        """Turns of the conversation scheduled in this process and not finished yet."""
        return self._pending.get(conversation_id, 0)

    async def customer_typing(
        self, conversation_id: str, typing: bool, draft: str | None = None
    ) -> bool:
        """Relayed to the agent who has the conversation (with the draft, when drafts are
        shown); True when that agent would see a draft (the widget then sends it)."""
        return await self.handoff.customer_typing(conversation_id, typing, draft)

    async def customer_presence(self, conversation_id: str, online: bool) -> None:
        """The customer opened, or closed the last, page with the chat."""
        await self.handoff.customer_presence(conversation_id, online)

    async def page_opened(self, conversation_id: str) -> None:
        """A page of this conversation is open (again) on this process: still in line."""
        if self.pages is not None:
            await self.pages.page_opened(conversation_id)

    async def page_closed(self, conversation_id: str) -> None:
        """This process holds no page of the conversation any more."""
        if self.pages is not None:
            await self.pages.page_closed(conversation_id)

    def watch_pages(self, here: Callable[[], Iterable[str]]) -> None:
        """`here`: the conversations with a page open on this process, asked every sweep."""
        if self.pages is not None:
            self.pages.watch(here)

    async def accept(self, inbound: Inbound) -> Accepted:
        """Store the customer's message (once per client id) and schedule the reply."""
        # Stored and its turn recorded in one step, before it is acknowledged: if this fails
        # the customer is told and resends; a turn recorded is answered even if we die.
        result = await self.turns.intake(inbound, customer_entry(inbound))
        if not result.duplicate:
            self.metrics.messages.labels(inbound.channel, "customer").inc()
            # The conversation as it was when the message was stored: the turn reads it
            # only if an earlier turn of the conversation runs first.
            known = Conversation.from_fields(
                inbound.conversation_id, result.conversation, self.conversations.default_language
            )
            self._schedule(inbound, result.seq, known=known)
        elif await self.turns.unanswered(inbound, result.seq):
            self._schedule(inbound, result.seq)
        return Accepted(seq=result.seq, duplicate=result.duplicate)

    async def adopt_orphans(self) -> int:
        """Run the turns a process that died left unanswered; returns how many."""
        orphans = await self.turns.orphans()
        for orphan in orphans:
            if orphan.attempts > MAX_ATTEMPTS:
                log.error(
                    "turn %s#%s failed %d times",
                    orphan.inbound.conversation_id,
                    orphan.seq,
                    orphan.attempts,
                )
                self._schedule(orphan.inbound, orphan.seq, give_up=True)
            else:
                self._schedule(orphan.inbound, orphan.seq)
        return len(orphans)

    async def keep_unread(self, inbound: Inbound, reply: str) -> None:
        """Store what the customer sent that the bot cannot read (a sticker, a photo, an edit),
        once, so nothing is lost, and tell them why it was not answered."""
        result = await self.store.append(
            inbound.conversation_id, customer_entry(inbound), inbound.client_msg_id
        )
        if not result.duplicate:
            message = Outbound(text=reply, role="system")
            await self.outbox.send(inbound.conversation_id, inbound.channel, message)

    def _schedule(
        self,
        inbound: Inbound,
        seq: int,
        give_up: bool = False,
        known: Conversation | None = None,
    ) -> None:
        conversation_id = inbound.conversation_id
        previous = self._tails.get(conversation_id)
        if previous is not None:
            known = None  # the turn before may change the conversation: read it after
        self.turns.running.add((conversation_id, seq))
        task = asyncio.create_task(self._turn_after(previous, inbound, seq, give_up, known))
        self._tails[conversation_id] = task
        self._pending[conversation_id] = self._pending.get(conversation_id, 0) + 1

        def forget(done: asyncio.Task[None]) -> None:
            left = self._pending.get(conversation_id, 1) - 1
            if left > 0:
                self._pending[conversation_id] = left
            else:
                self._pending.pop(conversation_id, None)
            if self._tails.get(conversation_id) is done:
                del self._tails[conversation_id]

        task.add_done_callback(forget)

    async def _turn_after(
        self,
        previous: asyncio.Task[None] | None,
        inbound: Inbound,
        seq: int,
        give_up: bool,
        known: Conversation | None,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        conversation_id, channel = inbound.conversation_id, inbound.channel
        CURRENT.set((conversation_id, seq))  # this task's messages answer this turn
        relayed = failed = False
        try:
            if give_up:
                failed = True
            else:
                relayed = await self.turn(inbound, seq, known)
        except FrontdeskError as exc:
            log.error("turn for %s failed: %s", conversation_id, exc)
            failed = True
        except Exception:
            log.exception("turn for %s failed", conversation_id)
            failed = True
        try:
            if failed:  # an honest failure rather than silence
                await self._say_failed(inbound)
            if not relayed:  # the end of every turn the gateway or the bot answered
                await self.outbox.typing(conversation_id, channel, False, seq)
        except Exception:
            log.exception("could not end the turn for %s", conversation_id)
        finally:
            self.turns.running.discard((conversation_id, seq))
            self.turns.finish(conversation_id, seq)

    async def _say_failed(self, inbound: Inbound) -> None:
        language = self.templates.default_language
        with contextlib.suppress(FrontdeskError):
            language = (await self.conversations.get(inbound.conversation_id)).language
        text = self.templates.render(language, "turn_failed")
        await self.outbox.send(
            inbound.conversation_id, inbound.channel, Outbound(text, role="system")
        )

    async def _typing_later(self, inbound: Inbound, seq: int) -> None:
        await asyncio.sleep(self.typing_delay)
        conversation = await self.conversations.get(inbound.conversation_id)
        order = ORDER_NUMBER.search(inbound.bot_text)
        activity = (
            self.templates.render(conversation.language, "activity_order", order=order.group(1))
            if order and conversation.state is not State.AGENT
            else ""
        )
        await self.outbox.typing(inbound.conversation_id, inbound.channel, True, seq, activity)

    async def idle(self) -> None:
        """Wait until every scheduled turn has finished (used at shutdown)."""
        while self._tails:
            await asyncio.wait(list(self._tails.values()))

    async def turn(self, inbound: Inbound, seq: int, known: Conversation | None = None) -> bool:
        """Handle one customer message; True when it was relayed to an agent. `known`: the
        conversation as read when the message was stored (else it is read now)."""
        conversation = known
        if conversation is None:
            conversation = await self.conversations.get(inbound.conversation_id)
        command = inbound.bot_text.strip()
        if inbound.attachment and self.files is not None:
            entry = {**customer_entry(inbound), "seq": seq}
            if await self.files.received(conversation, entry):
                return True
            if conversation.state is not State.BOT or not inbound.payload.strip():
                return False
            # The photo's caption is the customer's words: the bot answers them too.
        if conversation.state is State.AGENT:
            await self.handoff.to_agent(conversation, {**customer_entry(inbound), "seq": seq})
            return True
        if conversation.state is State.SURVEY:
            if await self.survey.answer(inbound, conversation):
                return False
            conversation = await self.conversations.get(conversation.id)
        if conversation.state is State.LEAVING_MESSAGE:
            fields = await self.handoff.leave.answer(inbound, conversation)
            if fields is not None:
                await self.handoff.left_message(conversation, fields)
            return False
        if command == CANCEL_REQUEST:
            await self.handoff.cancel(conversation)
        elif command == LEAVE_MESSAGE:
            await self.handoff.leave_message(conversation)
        elif command == TOPIC_PERSON:
            await self.handoff.accept_topic_offer(conversation)
        elif command == NO_PERSON:
            await self.handoff.decline_topic_offer(conversation)
        else:
            # Show the work: "typing…" only when the answer takes longer than typing_delay.
            typing = asyncio.create_task(self._typing_later(inbound, seq))
            try:
                await self._bot_turn(inbound, conversation)
            finally:
                typing.cancel()
        return False

    async def _follow_language(self, inbound: Inbound, conversation: Conversation) -> Conversation:
        """The conversation's language, switched when the customer clearly writes in another
        of ours (a Russian question on an English page is answered in Russian)."""
        if inbound.bot_text.startswith("/"):
            return conversation
        detected = detect(inbound.bot_text)
        if detected and detected != conversation.language and detected in self.templates.languages:
            conversation = await self.conversations.set_language(conversation, detected)
            # The widget's own words and its header line follow the customer too.
            status = await self.handoff.waits.typical_reply(detected)
            await self.outbox.event(
                conversation.id,
                conversation.channel,
                "widget_config",
                {"language": detected, "detected": True, "status_text": status},
            )
        return conversation

    async def _bot_turn(self, inbound: Inbound, conversation: Conversation) -> None:
        conversation = await self._follow_language(inbound, conversation)
        language, channel = conversation.language, conversation.channel
        started = time.perf_counter()
        try:
            metadata = {**inbound.metadata, "language": language}
            reply = await self.bot.send(conversation.id, inbound.bot_text, metadata)
        except BotUnavailable as exc:
            self.metrics.bot_failures.inc()
            log.warning("bot unavailable for %s: %s", conversation.id, exc)
            text = self.templates.render(language, "bot_unavailable")
            await self.outbox.send(conversation.id, channel, Outbound(text=text, role="system"))
            return
        outbound, controls = split_replies(reply.messages)
        understood = self._understood(inbound, conversation, reply.understood)
        not_sure = unsure(understood, self.flows.min_answer_confidence)
        await self._publish_outcome(inbound, conversation, understood, not_sure)
        if not_sure:
            # Never a confident wrong answer: say so, ask for more, offer a person.
            kept = {k: v for k, v in understood.items() if k in ("captured", "last_question")}
            understood = {
                "last_intent": UNSURE,
                "last_confidence": understood["answer_confidence"],
                **kept,
            }
            suggestions = self.flows.suggestions
            outbound = [not_sure_reply(self.templates, suggestions, reply.understood, language)]
        elif understood.get("area") and outbound:
            # Every FAQ answer says which answer it is, so the customer can rate it.
            last = outbound[-1]
            outbound[-1] = replace(
                last,
                answer_id=understood.get("intent", understood["area"]),
                answer_confidence=round(float(understood.get("answer_confidence") or 0), 3),
            )
        for message in outbound:
            await self.outbox.send(conversation.id, channel, message)
        # The answer is on its way (Engine.IO's writer task sends it): let it go out before
        # the bookkeeping below (what was understood, the bot's markers) takes the process.
        await asyncio.sleep(0)
        self.metrics.bot_turn.observe(time.perf_counter() - started)
        if understood.get("last_intent") in NOT_UNDERSTOOD:
            self.metrics.not_understood.inc()
        if not_sure:  # what the bot guessed is not the topic: a handoff must not repeat it
            conversation = await self.conversations.forget_topic(conversation)
        await self._apply_controls(conversation, understood, controls)

    async def _publish_outcome(
        self,
        inbound: Inbound,
        conversation: Conversation,
        understood: Mapping[str, str],
        not_sure: bool,
    ) -> None:
        """What the bot did with the customer's words, for reports and the "could not
        answer" list: an FAQ answer, an honest "not sure", or not understood."""
        if inbound.bot_text.startswith("/"):
            return  # a button, not the customer's words
        turn = CURRENT.get()
        seq = turn[1] if turn else 0
        common = (conversation.id, conversation.channel, conversation.language)
        intent = understood.get("intent") or understood.get("area", "")
        if not_sure:
            confidence = float(understood.get("answer_confidence") or 0)
            event: Event = BotDeclined(*common, inbound.text, intent, confidence, "unsure", seq)
        elif understood.get("last_intent") in NOT_UNDERSTOOD:
            confidence = float(understood.get("last_confidence") or 0)
            guess = understood.get("last_intent", "")
            event = BotDeclined(*common, inbound.text, guess, confidence, "not_understood", seq)
        elif understood.get("area"):
            confidence = float(understood.get("answer_confidence") or 0)
            event = BotAnswered(*common, intent, confidence, seq)
        else:
            return
        await self.conversations.bus.publish(event)

    def _understood(
        self, inbound: Inbound, conversation: Conversation, parse: dict[str, Any]
    ) -> dict[str, str]:
        """What the bot understood (area, intent, confidence, captured values), to keep."""
        if not parse:
            return {}
        fields = understanding({"latest_message": parse})
        captured = {**conversation.captured, **json.loads(fields.get("captured", "{}"))}
        if captured:
            fields["captured"] = json.dumps(captured, ensure_ascii=False)
        if fields.get("last_intent") not in SMALL_TALK and not inbound.bot_text.startswith("/"):
            fields["last_question"] = inbound.text[:200]
        return fields

    async def _apply_controls(
        self, conversation: Conversation, understood: dict[str, str], controls: list[dict[str, Any]]
    ) -> None:
        """Keep what was understood (one write) and act on the bot's markers."""
        events = {str(c.get("event")): c for c in controls}
        fallback = "fallback" in events or understood.get("last_intent") in NOT_UNDERSTOOD
        conversation = await self.conversations.remember(conversation, understood, fallback)
        if conversation.waiting and understood.get("last_question"):
            await self.handoff.new_topic(conversation, understood["last_question"])
        if fallback:
            if (
                conversation.fallbacks_in_a_row >= self.flows.fallbacks_before_offer
                and conversation.state is State.BOT
            ):
                await self.conversations.reset_fallbacks(conversation)
                await self.handoff.offer_person(conversation)
            return
        if "handoff" in events:
            reason = str(events["handoff"].get("reason") or "customer_asked")
            await self.handoff.request(conversation, reason)
        elif "wait_time" in events:
            await self.handoff.tell_wait(conversation)
        elif (
            conversation.intent in self.flows.topics
            and conversation.last_intent == conversation.area
            and conversation.state is State.BOT
        ):
            # A person is offered, not imposed, unless flows/ says the topic always needs one.
            if conversation.intent in self.flows.always_topics:
                await self.handoff.request(
                    conversation, "topic", self.flows.topics[conversation.intent]
                )
            else:
                await self.handoff.offer_topic_person(conversation)
