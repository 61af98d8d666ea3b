"""The simulated day of bench/wait_honesty.py: its profile, its clock, and what customers see.

The profile (arrivals by hour, handle times, agents' shifts and absences, customers' patience)
is a busy small shop's day, open 8:00-18:00. The clock is the simulation's time, installed as the
core's `clock` and as this process's `time.time` (parts of the core read the time themselves:
when a case was requested, joined, closed). The screen stands for the customers' widgets: it
keeps each customer's first quote and notices every offer to leave a message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from frontdesk.core.conversation import LEAVE_MESSAGE, REQUEST_PERSON
from frontdesk.core.messages import BotReply

UTC = ZoneInfo("UTC")
OPEN_HOUR, DAY_HOURS = 8, 10  # the shop is open 8:00-18:00 every day (UTC)
FIRST_DAY = dt.datetime(2026, 12, 7, OPEN_HOUR, tzinfo=UTC)  # a Monday
ARRIVALS_PER_HOUR = (20, 35, 50, 60, 45, 40, 55, 65, 45, 25)  # a morning and an evening peak
HANDLE_MEDIAN_MIN, HANDLE_SIGMA = 6.0, 0.6  # a live chat, log-normal
ANSWER_MEDIAN_MIN = 4.0  # writing the e-mail answer to a left message
PICKUP = (5.0, 30.0)  # seconds an agent takes to open the next customer (uniform)
NOBODY_THERE = 90.0  # seconds an agent spends on a case whose customer has gone
# (name, capacity, shifts as (from, to) hours after opening): shifts with breaks.
AGENTS = (
    ("ana", 3, ((0.0, 4.0), (4.5, 10.0))),
    ("ben", 2, ((1.0, 6.0),)),
    ("cho", 3, ((3.0, 7.5), (8.0, 10.0))),
    ("dev", 2, ((6.0, 10.0),)),
)
AWAY_PER_HOUR = 0.4  # unplanned absences mid-shift (a call, a colleague), per agent and hour
AWAY_MINUTES = (4.0, 20.0)
EMAIL_ON_FILE = 0.5  # customers whose e-mail the page or the pre-chat form gave
PATIENCE_MEDIAN_MIN, PATIENCE_SIGMA = 15.0, 0.9  # how long a customer waits before leaving
RELOAD = 0.15  # customers who close the page once and are back within a minute
TAKE_MESSAGE = 0.6  # customers offered to leave a message who take it
HEARTBEAT = 30.0  # the gateway's presence heartbeat, simulated seconds


class SimClock:
    """The simulated time, installed as the core's clock and as this process's time.time."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        real = time.time
        time.time = self
        try:
            yield
        finally:
            time.time = real


class StandInBot:
    """Rasa's side of a request for a person: the handoff marker (nothing else is asked)."""

    async def send(
        self, conversation_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> BotReply:
        if text == REQUEST_PERSON:
            understood = {"intent": {"name": "human_handoff", "confidence": 0.99}, "entities": []}
            return BotReply([{"custom": {"frontdesk": {"event": "handoff"}}}], understood)
        return BotReply([{"text": "Could you rephrase that?"}], {})


@dataclass
class Customer:
    conversation_id: str
    arrived: float
    email: str
    patience: float  # seconds until they close the page for good
    takes_message: bool = False  # would leave a message if offered (drawn at arrival)
    quote: dict[str, Any] | None = None  # the first queue status they read
    naive: float | None = None  # position x mean handle time / agents, at arrival
    offered_message: bool = False
    took_message: bool = False
    joined: float | None = None  # a person opened the chat
    left: float | None = None  # the page closed for good
    out_of_line: float | None = None  # abandoned, cancelled or became a left message
    abandoned: bool = False  # taken out of the line by the abandonment rule
    message_case: str = ""
    case_id: str = ""  # the live request
    raw_high: float | None = None  # the estimate's upper end before rounding up for display

    @property
    def first_high(self) -> float | None:
        """The upper end of the first quote, as the customer read it (seconds)."""
        estimate = (self.quote or {}).get("estimate")
        return float(estimate["high_seconds"]) if estimate else None

    @property
    def first_low(self) -> float | None:
        estimate = (self.quote or {}).get("estimate")
        return 60.0 * float(estimate["low_minutes"]) if estimate else None


@dataclass
class Screen:
    """The customers' widgets: what the core sends them, and what they do about it."""

    customers: dict[str, Customer] = field(default_factory=dict)
    offers: list[str] = field(default_factory=list)  # conversations offered a message just now

    async def deliver(self, conversation_id: str, entry: Mapping[str, Any]) -> None:
        buttons = entry.get("quick_replies") or []
        if any(b.get("payload") == LEAVE_MESSAGE for b in buttons):
            self._offered(conversation_id)

    async def typing(
        self, conversation_id: str, active: bool, in_reply_to: int, activity: str = ""
    ) -> None:
        return None

    async def event(self, conversation_id: str, name: str, data: Mapping[str, Any]) -> None:
        customer = self.customers.get(conversation_id)
        if name != "queue_status" or customer is None or data.get("cleared"):
            return
        if customer.quote is None:
            customer.quote = dict(data)
        actions = data.get("actions") or []
        if data.get("leave_message") or any(a.get("payload") == LEAVE_MESSAGE for a in actions):
            self._offered(conversation_id)

    def _offered(self, conversation_id: str) -> None:
        customer = self.customers.get(conversation_id)
        if customer is not None and not customer.offered_message and customer.left is None:
            customer.offered_message = True
            self.offers.append(conversation_id)
