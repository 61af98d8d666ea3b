"""One function builds the core from its parts; nothing is wired after construction.

    core = build_core(store, cases, agents, bot, templates, flows, hours, wait_config, metrics)

The channels then register with `core.outbox` and hand customer messages to `core.router`; the
console subscribes to `core.bus`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from frontdesk.core.agentdesk import AgentDesk
from frontdesk.core.assignment import AutoAssign
from frontdesk.core.conversation import Conversations
from frontdesk.core.events import EventBus
from frontdesk.core.flows import Flows
from frontdesk.core.handoff import Handoff
from frontdesk.core.hours import Hours
from frontdesk.core.leave_message import LeaveMessage
from frontdesk.core.metrics import Metrics, count_events
from frontdesk.core.outbox import Outbox
from frontdesk.core.ratings import AnswerRatings
from frontdesk.core.router import Bot, Router
from frontdesk.core.survey import Survey
from frontdesk.core.templates import Templates
from frontdesk.core.waits import WaitConfig, Waits
from frontdesk.store.base import AgentStore, CaseStore, Store


@dataclass(frozen=True)
class Core:
    bus: EventBus
    conversations: Conversations
    outbox: Outbox
    router: Router
    handoff: Handoff
    waits: Waits
    desk: AgentDesk
    ratings: AnswerRatings
    auto_assign: AutoAssign


def build_core(
    store: Store,
    cases: CaseStore,
    agents: AgentStore,
    bot: Bot,
    templates: Templates,
    flows: Flows,
    hours: Hours,
    wait_config: WaitConfig,
    metrics: Metrics,
    typing_delay: float = 0.7,
    clock: Callable[[], float] = time.time,
) -> Core:
    bus = EventBus()
    conversations = Conversations(store, bus, templates.default_language)
    outbox = Outbox(store, metrics)
    waits = Waits(
        conversations,
        cases,
        agents,
        outbox,
        templates,
        hours,
        wait_config,
        metrics,
        default_capacity=flows.agent_capacity,
        clock=clock,
    )
    leave = LeaveMessage(conversations, outbox, templates, waits)
    handoff = Handoff(conversations, store, cases, outbox, templates, flows, waits, leave, bus)
    survey = Survey(conversations, cases, outbox, templates, bus)
    desk = AgentDesk(conversations, store, cases, agents, outbox, templates, flows, survey, bus)
    router = Router(
        conversations, store, bot, outbox, templates, flows, handoff, survey, metrics, typing_delay
    )
    auto_assign = AutoAssign(desk, flows.auto_assign)
    waits.subscribe(bus)
    auto_assign.subscribe(bus)
    count_events(bus, metrics)
    ratings = AnswerRatings(conversations, store, outbox, templates, bus)
    return Core(bus, conversations, outbox, router, handoff, waits, desk, ratings, auto_assign)
