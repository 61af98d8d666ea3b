"""A bot turn, for the router (core/router.py): the customer's words to Rasa and its answer
back, checked first — never a confident wrong answer ("not sure", with "Did you mean…?"
questions and a person) — then what the bot understood kept for the agent, and the bot's
markers (handoff, wait time, topic rules) acted on. A mixin of `Router`."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from frontdesk.core.conversation import (
    Conversation,
    Conversations,
    State,
)
from frontdesk.core.declined import not_sure_reply
from frontdesk.core.events import BotAnswered, BotDeclined, Event
from frontdesk.core.flows import Flows
from frontdesk.core.handoff import Handoff
from frontdesk.core.language import detect
from frontdesk.core.messages import BotReply, Inbound, Outbound
from frontdesk.core.metrics import Metrics
from frontdesk.core.outbox import Outbox
from frontdesk.core.rasa_replies import split_replies
from frontdesk.core.templates import Templates
from frontdesk.core.turns import CURRENT
from frontdesk.core.understanding import understanding
from frontdesk.errors import BotUnavailable

log = logging.getLogger(__name__)


class Bot(Protocol):
    async def send(
        self, conversation_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> BotReply: ...


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


class BotTurns:
    conversations: Conversations
    bot: Bot
    outbox: Outbox
    templates: Templates
    flows: Flows
    handoff: Handoff
    metrics: Metrics

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
        outcome = (inbound, conversation, dict(understood), not_sure)
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
        await self._publish_outcome(*outcome)  # for reports: after the answer, not before it
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
