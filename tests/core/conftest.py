"""The fast layer: the core (conversation model, routing rules, handoff, survey, leave a
message, waits) with a scripted bot and in-memory stores. No Redis, Rasa, network or browser:
the whole layer runs in seconds, and `make test` runs it first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from frontdesk.config import ROOT
from frontdesk.core.build import Core, build_core
from frontdesk.core.conversation import Conversation
from frontdesk.core.events import Event
from frontdesk.core.flows import load_flows
from frontdesk.core.hours import Hours
from frontdesk.core.messages import BotReply, Inbound
from frontdesk.core.metrics import Metrics
from frontdesk.core.templates import Templates
from frontdesk.core.wait_config import WaitConfig
from tests.fake_rasa import Turn
from tests.memory import MemoryAgents, MemoryCases, MemoryMail, MemoryStore, MemoryTurns

TEMPLATES = Templates(ROOT / "flows", "en")
UTC = ZoneInfo("UTC")
NINE_TO_FIVE = {day: ((dt.time(9), dt.time(17)),) for day in range(7)}
OPEN_AT = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
CLOSED_AT = dt.datetime(2026, 11, 30, 20, 0, tzinfo=UTC).timestamp()


class ScriptedBot:
    """The bot's side of a turn, scripted by message text (unknown text: a fallback)."""

    def __init__(self) -> None:
        self.script: dict[str, Turn] = {}

    async def send(
        self, conversation_id: str, text: str, metadata: dict[str, Any] | None = None
    ) -> BotReply:
        turn = self.script.get(text)
        if turn is None:
            turn = Turn("nlu_fallback", 0.2, texts=("Could you rephrase that?",))
            turn.control = {"event": "fallback"}
        body = turn.body()
        return BotReply(body["messages"], body["understood"])


@dataclass
class RecordingChannel:
    """The customer's screen: every message and event the core sent, per conversation."""

    sent: list[tuple[str, str, Any]] = field(default_factory=list)

    async def deliver(self, conversation_id: str, entry: Mapping[str, Any]) -> None:
        self.sent.append((conversation_id, "message", dict(entry)))

    async def typing(
        self, conversation_id: str, active: bool, in_reply_to: int, activity: str = ""
    ) -> None:
        return None

    async def event(self, conversation_id: str, name: str, data: Mapping[str, Any]) -> None:
        self.sent.append((conversation_id, name, dict(data)))

    def texts(self, conversation_id: str) -> list[str]:
        return [
            str(d.get("text"))
            for c, kind, d in self.sent
            if c == conversation_id and kind == "message"
        ]

    def events(self, conversation_id: str, name: str) -> list[dict[str, Any]]:
        return [d for c, kind, d in self.sent if c == conversation_id and kind == name]


@dataclass
class Desk:
    core: Core
    bot: ScriptedBot
    screen: RecordingChannel
    store: MemoryStore
    cases: MemoryCases
    agents: MemoryAgents
    turns: MemoryTurns
    published: list[Event]
    now: list[float]

    async def open(self, conversation_id: str, language: str = "en") -> Conversation:
        return await self.core.router.open_conversation(conversation_id, "widget", language, {})

    async def say(self, conversation_id: str, text: str, payload: str = "") -> list[str]:
        """The customer says something; returns the texts sent to them in reply."""
        before = len(self.screen.texts(conversation_id))
        await self.core.router.accept(Inbound(conversation_id, "widget", text, payload))
        await self.core.router.idle()
        return self.screen.texts(conversation_id)[before:]

    async def conversation(self, conversation_id: str) -> Conversation:
        return await self.core.conversations.get(conversation_id)

    async def agent_online(self, name: str, capacity: int = 2) -> None:
        await self.agents.save(name, {"display_name": name.title(), "capacity": str(capacity)})
        await self.core.desk.connected(name, +1)

    def events_of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.published if isinstance(e, kind)]


def make_desk(
    at: float = OPEN_AT, language_default: str = "en", mail: MemoryMail | None = None
) -> Desk:
    """mail: answers to left messages can be sent (queued in this outbox)."""
    store, agents = MemoryStore(), MemoryAgents()
    cases = MemoryCases(store)
    turns = MemoryTurns(store)
    bot, screen, now = ScriptedBot(), RecordingChannel(), [at]
    hours = Hours(zone=UTC, weekly=NINE_TO_FIVE)
    core = build_core(
        store,
        cases,
        agents,
        turns,
        "this-process",
        bot,
        TEMPLATES,
        load_flows(ROOT / "flows"),
        hours,
        WaitConfig(),
        Metrics(),
        typing_delay=30,
        clock=lambda: now[0],
        mail=mail,
        mail_sending=mail is not None,
        secret=b"k" * 32,
        base_url="https://help.shop.example",
    )
    core.outbox.register("widget", screen)
    published: list[Event] = []
    original = core.bus.publish

    async def record(event: Event) -> None:
        published.append(event)
        await original(event)

    core.bus.publish = record  # type: ignore[method-assign]
    return Desk(core, bot, screen, store, cases, agents, turns, published, now)


@pytest.fixture
def desk() -> Desk:
    return make_desk()


def faq(answer: str, confidence: float = 0.9, text: str = "Here is the answer.") -> Turn:
    return Turn(answer.split("/")[0], 0.95, answer, confidence, (text,))


def person() -> Turn:
    return Turn("human_handoff", 0.97, texts=(), control={"event": "handoff"})


async def settle(desk: Desk) -> None:
    """Let background work finish: turns, then the queue-status publisher."""
    await desk.core.router.idle()
    publisher = desk.core.waits._publisher
    if publisher is not None:
        await publisher
