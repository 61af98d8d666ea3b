"""Channel-neutral conversation logic: store what the customer said, get the answer, send it."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from frontdesk.core.handoff import CANCEL, REQUEST, Handoff
from frontdesk.core.language import detect
from frontdesk.core.messages import BotReply, Inbound, Outbound, QuickReply, customer_entry
from frontdesk.core.outbox import Outbox
from frontdesk.core.rasa_replies import split_replies
from frontdesk.core.survey import Survey
from frontdesk.core.templates import Templates
from frontdesk.core.understanding import understanding
from frontdesk.core.waits import LEAVE_MESSAGE
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
        store: Store,
        bot: Bot,
        outbox: Outbox,
        templates: Templates,
        handoff: Handoff,
        survey: Survey,
        typing_delay: float = 0.7,
    ) -> None:
        self.typing_delay = typing_delay
        self.handoff = handoff
        self.survey = survey
        self.flows = handoff.flows
        self.store = store
        self.bot = bot
        self.outbox = outbox
        self.templates = templates
        self._tails: dict[str, asyncio.Task[None]] = {}

    async def open_conversation(
        self, conversation_id: str, channel: str, language: str, details: Mapping[str, str]
    ) -> dict[str, str]:
        """Create the conversation on first contact; later contacts keep its language."""
        fields = {"channel": channel, "language": language, "state": "bot"}
        fields["created_at"] = f"{time.time():.3f}"
        await self.store.create_conversation(conversation_id, {**fields, **details})
        if details:
            await self.store.update_conversation(conversation_id, details)
        return await self.store.get_conversation(conversation_id)

    async def accept(self, inbound: Inbound) -> Accepted:
        """Store the customer's message (once per client id) and schedule the reply."""
        result = await self.store.append(
            inbound.conversation_id, customer_entry(inbound), inbound.client_msg_id
        )
        if not result.duplicate:
            self.outbox.metrics.messages.labels(inbound.channel, "customer").inc()
            self._schedule(inbound, result.seq)
        return Accepted(seq=result.seq, duplicate=result.duplicate)

    async def keep_unread(self, inbound: Inbound, reply: str) -> None:
        """Store what the customer sent that the bot cannot read (a sticker, a photo, an edit),
        once, so nothing is lost, and tell them why it was not answered."""
        result = await self.store.append(
            inbound.conversation_id, customer_entry(inbound), inbound.client_msg_id
        )
        if not result.duplicate:
            message = Outbound(text=reply, role="system")
            await self.outbox.send(inbound.conversation_id, inbound.channel, message)

    def _schedule(self, inbound: Inbound, seq: int) -> None:
        conversation_id = inbound.conversation_id
        previous = self._tails.get(conversation_id)
        task = asyncio.create_task(self._turn_after(previous, inbound, seq))
        self._tails[conversation_id] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._tails.get(conversation_id) is done:
                del self._tails[conversation_id]

        task.add_done_callback(forget)

    async def _turn_after(
        self, previous: asyncio.Task[None] | None, inbound: Inbound, seq: int
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        conversation_id, channel = inbound.conversation_id, inbound.channel
        relayed = False
        try:
            relayed = await self.turn(inbound, seq)
        except FrontdeskError as exc:
            log.error("turn for %s failed: %s", conversation_id, exc)
        except Exception:
            log.exception("turn for %s failed", conversation_id)
        finally:
            if not relayed:  # the end of every turn the gateway or the bot answered
                await self.outbox.typing(conversation_id, channel, False, seq)

    async def _typing_later(self, inbound: Inbound, seq: int) -> None:
        await asyncio.sleep(self.typing_delay)
        meta = await self.store.get_conversation(inbound.conversation_id)
        language = meta.get("language", self.templates.default_language)
        order = ORDER_NUMBER.search(inbound.bot_text)
        activity = (
            self.templates.render(language, "activity_order", order=order.group(1))
            if order and meta.get("state", "bot") != "agent"
            else ""
        )
        await self.outbox.typing(inbound.conversation_id, inbound.channel, True, seq, activity)

    async def idle(self) -> None:
        """Wait until every scheduled turn has finished (used at shutdown)."""
        while self._tails:
            await asyncio.wait(list(self._tails.values()))

    async def turn(self, inbound: Inbound, seq: int) -> bool:
        """Handle one customer message; True when it was relayed to an agent."""
        conversation_id = inbound.conversation_id
        meta = await self.store.get_conversation(conversation_id)
        meta.setdefault("id", conversation_id)
        state = meta.get("state", "bot")
        command = inbound.bot_text.strip()
        if state == "agent":
            entry = {**customer_entry(inbound), "seq": seq}
            await self.handoff.to_agent(meta, entry)
            return True
        if state == "survey" and await self.survey.answer(inbound, meta):
            return False
        if state == "leave_message":
            fields = await self.handoff.leave.answer(inbound, meta)
            if fields is not None:
                await self.handoff.left_message(meta, fields)
            return False
        if command == CANCEL:
            await self.handoff.cancel(meta)
        elif command == LEAVE_MESSAGE:
            await self.handoff.leave_message(meta)
        else:
            # Show the work: "typing…" only when the answer takes longer than typing_delay.
            typing = asyncio.create_task(self._typing_later(inbound, seq))
            try:
                await self._bot_turn(inbound, meta)
            finally:
                typing.cancel()
        return False

    async def _follow_language(self, inbound: Inbound, meta: dict[str, str]) -> str:
        """The conversation's language, switched when the customer clearly writes in another
        of ours (a Russian question on an English page is answered in Russian)."""
        language = meta.get("language", self.templates.default_language)
        if inbound.bot_text.startswith("/"):
            return language
        detected = detect(inbound.bot_text)
        if detected and detected != language and detected in self.templates.languages:
            language = meta["language"] = detected
            await self.store.update_conversation(inbound.conversation_id, {"language": language})
            # The widget's own words and its header line follow the customer too.
            status = await self.handoff.waits.typical_reply(language)
            await self.outbox.event(
                inbound.conversation_id,
                meta.get("channel", inbound.channel),
                "widget_config",
                {"language": language, "detected": True, "status_text": status},
            )
        return language

    async def _bot_turn(self, inbound: Inbound, meta: dict[str, str]) -> None:
        conversation_id = inbound.conversation_id
        channel = meta.get("channel", inbound.channel)
        language = await self._follow_language(inbound, meta)
        metrics = self.outbox.metrics
        started = time.perf_counter()
        try:
            metadata = {**inbound.metadata, "language": language}
            reply = await self.bot.send(conversation_id, inbound.bot_text, metadata)
        except BotUnavailable as exc:
            metrics.bot_failures.inc()
            log.warning("bot unavailable for %s: %s", conversation_id, exc)
            await self.store.update_conversation(conversation_id, {"bot_pending": "1"})
            text = self.templates.render(language, "bot_unavailable")
            await self.outbox.send(conversation_id, channel, Outbound(text=text, role="system"))
            return
        outbound, controls = split_replies(reply.messages)
        understood = self._understood(inbound, meta, reply.understood)
        if self._unsure(understood):
            # Never a confident wrong answer: say so, ask for more, offer a person.
            kept = {k: v for k, v in understood.items() if k in ("captured", "last_question")}
            understood = {
                "last_intent": UNSURE,
                "last_confidence": understood["answer_confidence"],
                **kept,
            }
            text = self.templates.render(language, "unsure_answer")
            button = QuickReply(self.templates.render(language, "button_talk_to_person"), REQUEST)
            outbound = [Outbound(text=text, quick_replies=(button,))]
        elif understood.get("area") and outbound:
            # Every FAQ answer says which answer it is, so the customer can rate it.
            last = outbound[-1]
            outbound[-1] = replace(
                last,
                answer_id=understood.get("intent", understood["area"]),
                answer_confidence=round(float(understood.get("answer_confidence") or 0), 3),
            )
        for message in outbound:
            await self.outbox.send(conversation_id, channel, message)
        metrics.bot_turn.observe(time.perf_counter() - started)
        if understood.get("last_intent") in NOT_UNDERSTOOD:
            metrics.not_understood.inc()
        meta.update(understood)
        await self._apply_controls(meta, understood, controls)

    def _unsure(self, understood: Mapping[str, str]) -> bool:
        return unsure(understood, self.flows.min_answer_confidence)

    def _understood(
        self, inbound: Inbound, meta: Mapping[str, str], parse: dict[str, Any]
    ) -> dict[str, str]:
        """What the bot understood (area, intent, confidence, captured values), to keep."""
        if not parse:
            return {}
        fields = understanding({"latest_message": parse})
        captured = {
            **json.loads(meta.get("captured") or "{}"),
            **json.loads(fields.get("captured", "{}")),
        }
        if captured:
            fields["captured"] = json.dumps(captured, ensure_ascii=False)
        if fields.get("last_intent") not in SMALL_TALK and not inbound.bot_text.startswith("/"):
            fields["last_question"] = inbound.text[:200]
        return fields

    async def _apply_controls(
        self, meta: dict[str, str], understood: dict[str, str], controls: list[dict[str, Any]]
    ) -> None:
        """Store what was understood (one write) and act on the bot's markers."""
        conversation_id = meta["id"]
        events = {str(c.get("event")): c for c in controls}
        if "fallback" in events or meta.get("last_intent") in NOT_UNDERSTOOD:
            await self.store.update_conversation(conversation_id, understood)
            count = await self.store.incr_field(conversation_id, "fallbacks_in_a_row")
            if count >= self.flows.fallbacks_before_offer and meta.get("state", "bot") == "bot":
                await self.store.update_conversation(conversation_id, {"fallbacks_in_a_row": "0"})
                await self.handoff.offer_person(meta)
            return
        await self.store.update_conversation(
            conversation_id, {**understood, "fallbacks_in_a_row": "0", "bot_pending": "0"}
        )
        if "handoff" in events:
            reason = str(events["handoff"].get("reason") or "customer_asked")
            await self.handoff.request(meta, reason)
        elif "wait_time" in events:
            await self.handoff.tell_wait(meta)
        elif meta.get("intent") in self.flows.topics and meta.get("last_intent") == meta.get(
            "area"
        ):
            await self.handoff.request(meta, "topic", self.flows.topics[meta["intent"]])
