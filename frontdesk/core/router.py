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
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from frontdesk.core.abandon import Abandonment
from frontdesk.core.bot_turn import Bot, BotTurns
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
from frontdesk.core.flows import Flows
from frontdesk.core.handoff import Handoff
from frontdesk.core.messages import Inbound, Outbound, customer_entry
from frontdesk.core.metrics import Metrics
from frontdesk.core.outbox import Outbox
from frontdesk.core.survey import Survey
from frontdesk.core.templates import Templates
from frontdesk.core.turns import CURRENT, MAX_ATTEMPTS, Turns
from frontdesk.errors import FrontdeskError
from frontdesk.store.base import Store

log = logging.getLogger(__name__)


ORDER_NUMBER = re.compile(r"#?\b(\d{4,8})\b")  # "Looking into order 1042…"


@dataclass(frozen=True)
class Accepted:
    seq: int
    duplicate: bool


class Router(BotTurns):
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
