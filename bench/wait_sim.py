"""The simulated front desk behind bench/wait_honesty.py: customers and agents at work.

The product's own core (frontdesk.core.build.build_core: router, handoff, waits and estimate,
conversation model, abandonment rule, agent desk, offline inbox) runs on the real Redis stores,
on the simulated clock of bench/wait_day.py. Customers ask for a person through the router (a
stand-in bot answers the request with the handoff marker, as Rasa does), read their queue
status on a recorded widget screen, close their page (some come back a moment later), take the
offer to leave a message, or type their message when asked. Agents come and go by shifts, step
away mid-shift (their open chats wait), pick up the oldest waiting customer after a few
seconds, close chats after log-normal handle times, and answer left messages by e-mail when
nobody waits in the live line.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from redis.asyncio import Redis
from wait_day import (
    AGENTS,
    ANSWER_MEDIAN_MIN,
    ARRIVALS_PER_HOUR,
    AWAY_MINUTES,
    AWAY_PER_HOUR,
    EMAIL_ON_FILE,
    FIRST_DAY,
    HANDLE_MEDIAN_MIN,
    HANDLE_SIGMA,
    HEARTBEAT,
    NOBODY_THERE,
    OPEN_HOUR,
    PATIENCE_MEDIAN_MIN,
    PATIENCE_SIGMA,
    PICKUP,
    RELOAD,
    TAKE_MESSAGE,
    UTC,
    Customer,
    Screen,
    SimClock,
    StandInBot,
)

from frontdesk.config import ROOT
from frontdesk.core.build import Core, build_core
from frontdesk.core.conversation import LEAVE_MESSAGE, REQUEST_PERSON, State
from frontdesk.core.events import (
    CaseAssigned,
    CaseCancelled,
    CaseClosed,
    CaseQueued,
    MessageLeft,
)
from frontdesk.core.flows import load_flows
from frontdesk.core.hours import Hours
from frontdesk.core.messages import Inbound
from frontdesk.core.metrics import Metrics
from frontdesk.core.templates import Templates
from frontdesk.core.wait_config import load_wait_config
from frontdesk.errors import DeskError
from frontdesk.store import RedisStore
from frontdesk.store.agents import AgentStore
from frontdesk.store.cases import CaseStore
from frontdesk.store.mail import MailStore
from frontdesk.store.turns import RedisTurns

# What-if runs of flows/waits.yml settings (bench/wait_honesty.py --set high_quantile=0.7).
WAIT_OVERRIDES: dict[str, float] = {}


def abandonment_sweep(core: Core) -> tuple[Callable[[], Awaitable[object]], float] | None:
    """The product's abandonment rule (issue 19, frontdesk/core/abandon.py): its sweep and how
    often the gateway runs it; None in a build without the rule."""
    rule = getattr(core, "abandonment", None)
    if rule is None:
        return None
    return rule.sweep, float(rule.every())


@dataclass(order=True)
class Event:
    at: float
    order: int
    kind: str = field(compare=False)
    data: tuple[Any, ...] = field(compare=False, default=())


DUE_SOON = 30 * 60.0  # a left message whose promise is this close goes before the line


class FrontDesk:
    """One simulated run: `days` days of `hours` opening hours each."""

    def __init__(self, redis: Redis, rng: random.Random, days: int, hours: float) -> None:
        self.rng = rng
        self.days, self.hours = days, hours
        self.clock = SimClock(FIRST_DAY.timestamp())
        self.cases = CaseStore(redis)
        self.agent_store = AgentStore(redis, "bench")
        self.screen = Screen()
        closing = dt.time(OPEN_HOUR + int(hours), int(60 * (hours % 1)))  # a short day closes early
        weekly = {d: ((dt.time(OPEN_HOUR), closing),) for d in range(7)}
        flows = replace(load_flows(ROOT / "flows"), auto_assign=False)  # agents pick up
        self.core = build_core(
            RedisStore(redis),
            self.cases,
            self.agent_store,
            RedisTurns(redis),
            "bench",
            StandInBot(),
            Templates(ROOT / "flows", "en"),
            flows,
            Hours(zone=UTC, weekly=weekly),
            replace(load_wait_config(ROOT / "flows"), **WAIT_OVERRIDES),
            Metrics(),
            typing_delay=3600,
            clock=self.clock,
            mail=MailStore(redis),
            mail_sending=True,
            secret=b"bench-secret-" * 3,
            base_url="https://help.shop.example",
        )
        self.core.outbox.register("widget", self.screen)
        self.sweep = abandonment_sweep(self.core)
        self.customers = self.screen.customers
        self.events: list[Event] = []
        self.order = 0
        self.capacity = {name: cap for name, cap, _ in AGENTS}
        self.present: set[str] = set()  # on shift and not away: takes new customers
        self.on_shift: set[str] = set()
        self.away_since: dict[str, float] = {}
        self.busy: dict[str, set[str]] = {name: set() for name in self.capacity}  # cases + pickups
        self.due: dict[str, tuple[float, int]] = {}  # case -> (when the agent finishes, version)
        self.picking: set[str] = set()
        self.handles: list[float] = []
        self.messages: dict[str, str] = {}  # left-message case -> conversation
        self.last_arrival = 0.0
        self.horizon = self.clock.now + days * 24 * 3600 + 3600 * hours  # the next day's close
        self.core.bus.subscribe(CaseQueued, self._queued)
        self.core.bus.subscribe(CaseAssigned, self._assigned)
        self.core.bus.subscribe(CaseCancelled, self._cancelled)
        self.core.bus.subscribe(MessageLeft, self._message_left)
        self.core.bus.subscribe(CaseClosed, self._closed)
        self.answered: dict[str, float] = {}  # left-message case -> when its answer went out
        self.in_line: set[str] = set()  # conversations waiting for a person
        self.sweeping = False  # a sweep is scheduled
        self.beat = float("-inf")  # the last presence heartbeat

    # -- the calendar ---------------------------------------------------------------------------

    def at(self, when: float, kind: str, *data: Any) -> None:
        self.order += 1
        heapq.heappush(self.events, Event(when, self.order, kind, data))

    def lognormal(self, median_minutes: float, sigma: float) -> float:
        return 60 * median_minutes * math.exp(self.rng.gauss(0, sigma))

    async def setup(self) -> None:
        for name, capacity, _ in AGENTS:
            await self.agent_store.save(
                name, {"display_name": name.title(), "capacity": str(capacity)}
            )
        start = self.clock.now
        for index in range(self.days + 1):  # and the next morning: yesterday's messages
            base = start + index * 24 * 3600
            for name, _, shifts in AGENTS:
                for begin, end in shifts:
                    if begin < self.hours:
                        self.at(base + begin * 3600, "shift_on", name)
                        self.at(base + min(end, self.hours) * 3600, "shift_off", name)
                        self.absences(name, base + begin * 3600, base + min(end, self.hours) * 3600)
            if index == self.days:
                break
            for hour in range(math.ceil(self.hours)):
                t, end = base + hour * 3600, base + min(hour + 1, self.hours) * 3600
                while (t := t + self.rng.expovariate(ARRIVALS_PER_HOUR[hour] / 3600)) < end:
                    self.at(t, "arrive")
                    self.last_arrival = max(self.last_arrival, t)

    def absences(self, name: str, begin: float, end: float) -> None:
        t = begin
        while (t := t + self.rng.expovariate(AWAY_PER_HOUR / 3600)) < end:
            back = t + 60 * self.rng.uniform(*AWAY_MINUTES)
            if back < end:
                self.at(t, "away", name, back)
            t = back

    def finished(self) -> bool:
        """After the last arrival: nobody waits, and every left message has its answer."""
        return (
            self.clock.now > self.last_arrival
            and not self.in_line
            and all(case in self.answered for case in self.messages)
            and not self.picking
        )

    async def run(self) -> None:
        with self.clock.installed():
            await self.setup()
            while self.events and not self.finished() and self.clock.now < self.horizon:
                event = heapq.heappop(self.events)
                self.clock.now = max(self.clock.now, event.at)
                if self.clock.now - self.beat >= HEARTBEAT:  # the gateway's presence heartbeat
                    self.beat = self.clock.now
                    await self.agent_store.heartbeat()
                await getattr(self, f"on_{event.kind}")(*event.data)
                await self.settle()
                await self.offers()
                await self.dispatch()
            await self.core.waits.close()

    async def settle(self) -> None:
        """Let the core finish what the event set off: turns, then queue-status pushes."""
        await self.core.router.idle()
        publisher = self.core.waits._publisher
        while publisher is not None and not publisher.done():
            await publisher
            publisher = self.core.waits._publisher

    # -- agents ---------------------------------------------------------------------------------

    def sweep_soon(self) -> None:
        """The abandonment sweep runs every few seconds while anyone waits (an idle night is
        skipped: with nobody in line a sweep has nothing to do)."""
        if self.sweep is not None and not self.sweeping and self.in_line:
            self.sweeping = True
            self.at(self.clock.now + self.sweep[1], "sweep")

    async def on_sweep(self) -> None:
        assert self.sweep is not None
        self.sweeping = False
        await self.sweep[0]()
        self.sweep_soon()

    async def on_shift_on(self, name: str) -> None:
        self.on_shift.add(name)
        self.present.add(name)
        if name not in await self._connected():
            await self.core.desk.connected(name, +1)
        await self.core.desk.set_presence(name, "available")

    async def on_shift_off(self, name: str) -> None:
        """The agent takes no new customers and finishes the chats they have; the last one out
        stays while customers still wait (nobody is left in line at closing)."""
        if self.present == {name} and await self.cases.queue():
            self.at(self.clock.now + 300, "shift_off", name)
            return
        self.on_shift.discard(name)
        self.present.discard(name)
        await self.core.desk.set_presence(name, "away")

    async def on_away(self, name: str, back: float) -> None:
        """Gone mid-shift: no new customers, and the chats they hold wait for them."""
        if name not in self.present:
            return
        self.present.discard(name)
        self.away_since[name] = self.clock.now
        await self.core.desk.set_presence(name, "away")
        self.at(back, "back", name)

    async def on_back(self, name: str) -> None:
        gone = self.clock.now - self.away_since.pop(name, self.clock.now)
        for case_id in self.busy[name]:
            if case_id in self.due:
                when, version = self.due[case_id]
                self.due[case_id] = (when + gone, version + 1)
                self.at(when + gone, "finish", case_id, name, version + 1)
        if name in self.on_shift:
            self.present.add(name)
            await self.core.desk.set_presence(name, "available")

    async def _connected(self) -> set[str]:
        return {n for n, (_, online) in (await self.agent_store.presence()).items() if online}

    async def dispatch(self) -> None:
        """Each present agent with a free slot opens, a few seconds later, a left message whose
        promise falls due within DUE_SOON, else the oldest waiting customer, else the left
        message promised soonest (the console lists messages by promise, overdue in red)."""
        queue = [c for c, _ in await self.cases.queue() if c not in self.picking]
        ids = [c for c, _ in await self.cases.messages() if c not in self.picking]
        if not self.present or not (queue or ids):
            return
        rows = await self.cases.get_many(ids)
        promised = sorted((float(r.get("promised_reply_at") or 0), r["id"]) for r in rows)
        due = [c for at, c in promised if at - self.clock.now < DUE_SOON]
        later = [c for at, c in promised if at - self.clock.now >= DUE_SOON]
        for name in sorted(self.present, key=lambda n: len(self.busy[n]) / self.capacity[n]):
            while len(self.busy[name]) < self.capacity[name] and (due or queue or later):
                case_id = (due or queue or later).pop(0)
                self.picking.add(case_id)
                self.busy[name].add(case_id)
                self.at(self.clock.now + self.rng.uniform(*PICKUP), "pickup", case_id, name)

    async def on_pickup(self, case_id: str, name: str) -> None:
        self.picking.discard(case_id)
        try:
            await self.core.desk.claim(name, case_id)
        except DeskError:  # the customer left the line meanwhile
            self.busy[name].discard(case_id)
            return
        row = await self.cases.get(case_id)
        customer = self.customers.get(row["conversation_id"])
        if row.get("kind") == "message":
            took = self.lognormal(ANSWER_MEDIAN_MIN, 0.5)
        elif customer is not None and customer.left is not None:
            took = NOBODY_THERE
        else:
            took = self.lognormal(HANDLE_MEDIAN_MIN, HANDLE_SIGMA)
        self.due[case_id] = (self.clock.now + took, 0)
        self.at(self.clock.now + took, "finish", case_id, name, 0)

    async def on_finish(self, case_id: str, name: str, version: int) -> None:
        if self.due.get(case_id, (0.0, -1))[1] != version:
            return  # rescheduled: the agent was away
        if name in self.away_since:
            return  # finished when they are back (on_back moved it)
        del self.due[case_id]
        self.busy[name].discard(case_id)
        row = await self.cases.get(case_id)
        if row.get("kind") == "message":
            await self.core.inbox.answer(
                name, case_id, "Thank you for your message: here is the answer."
            )
            self.answered[case_id] = self.clock.now
        else:
            self.handles.append(self.clock.now - float(row.get("joined_at") or self.clock.now))
            await self.core.desk.close(name, case_id)

    # -- customers ------------------------------------------------------------------------------

    async def say(self, conversation_id: str, text: str, payload: str = "") -> None:
        await self.core.router.accept(Inbound(conversation_id, "widget", text, payload))

    async def on_arrive(self) -> None:
        conversation_id = f"c{self.order}-{self.rng.randrange(10**9)}"
        email = f"{conversation_id}@example.com" if self.rng.random() < EMAIL_ON_FILE else ""
        patience = self.lognormal(PATIENCE_MEDIAN_MIN, PATIENCE_SIGMA)
        takes = self.rng.random() < TAKE_MESSAGE
        customer = Customer(conversation_id, self.clock.now, email, patience, takes)
        self.customers[conversation_id] = customer
        self.in_line.add(conversation_id)
        self.sweep_soon()
        details = {"customer_email": email} if email else {}
        await self.core.router.open_conversation(conversation_id, "widget", "en", details)
        await self.core.router.customer_presence(conversation_id, True)
        present = len(self.present) or 1
        mean = sum(self.handles[-200:]) / len(self.handles[-200:]) if self.handles else 480.0
        position = len(await self.cases.queue()) + 1
        customer.naive = position * mean / present
        await self.say(conversation_id, "Talk to a person", REQUEST_PERSON)
        await self.settle()
        if not (await self.core.conversations.get(conversation_id)).waiting:
            self.in_line.discard(conversation_id)  # not queued (taken at once, or a message)
        self.at(self.clock.now + patience, "leave", conversation_id)
        if self.rng.random() < RELOAD:
            self.at(self.clock.now + self.rng.uniform(0, patience), "reload", conversation_id)

    async def on_reload(self, conversation_id: str) -> None:
        customer = self.customers[conversation_id]
        if customer.left is None and customer.joined is None and customer.out_of_line is None:
            await self.core.router.customer_presence(conversation_id, False)
            self.at(self.clock.now + self.rng.uniform(5, 60), "page_back", conversation_id)

    async def on_page_back(self, conversation_id: str) -> None:
        if self.customers[conversation_id].left is None:
            await self.core.router.customer_presence(conversation_id, True)

    async def on_leave(self, conversation_id: str) -> None:
        """Out of patience: the customer closes the page without a word."""
        customer = self.customers[conversation_id]
        if customer.joined is None and customer.out_of_line is None and not customer.took_message:
            customer.left = self.clock.now
            await self.core.router.customer_presence(conversation_id, False)

    async def offers(self) -> None:
        """Customers offered to leave a message decide (some take it)."""
        while self.screen.offers:
            conversation_id = self.screen.offers.pop(0)
            customer = self.customers[conversation_id]
            if customer.joined is None and customer.takes_message:
                customer.took_message = True
                await self.say(conversation_id, "Leave a message", LEAVE_MESSAGE)
                await self.settle()
                conversation = await self.core.conversations.get(conversation_id)
                if (
                    conversation.state is State.LEAVING_MESSAGE
                    and conversation.leave.step == "email"
                ):
                    customer.email = f"{conversation_id}@example.com"
                    await self.say(conversation_id, customer.email)
                    await self.settle()
                await self.say(conversation_id, "My order arrived damaged, please call me back.")
                await self.settle()

    # -- what the core reports ------------------------------------------------------------------

    async def _queued(self, event: CaseQueued) -> None:
        customer = self.customers.get(event.conversation_id)
        if customer is not None and not customer.case_id:
            customer.case_id = event.case_id
            high = (await self.cases.get(event.case_id)).get("quote_high")
            customer.raw_high = float(high) if high else None

    async def _assigned(self, event: CaseAssigned) -> None:
        customer = self.customers.get(event.conversation_id)
        if customer is None or not event.waiting or customer.joined is not None:
            return
        self.in_line.discard(event.conversation_id)
        if customer.left is None:
            customer.joined = self.clock.now
        else:  # the agent opens the chat of a customer who has gone
            customer.out_of_line = customer.out_of_line or self.clock.now

    async def _cancelled(self, event: CaseCancelled) -> None:
        customer = self.customers.get(event.conversation_id)
        self.in_line.discard(event.conversation_id)
        if customer is not None and customer.out_of_line is None:
            customer.out_of_line = self.clock.now
            customer.abandoned = bool(getattr(event, "abandoned", False))

    async def _message_left(self, event: MessageLeft) -> None:
        self.messages[event.case_id] = event.conversation_id
        self.in_line.discard(event.conversation_id)
        customer = self.customers.get(event.conversation_id)
        if customer is not None:
            customer.message_case = event.case_id
            customer.out_of_line = customer.out_of_line or self.clock.now

    async def _closed(self, event: CaseClosed) -> None:
        if event.case_id in self.messages:
            self.answered.setdefault(event.case_id, self.clock.now)
