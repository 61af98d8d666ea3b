"""One function builds the core from its parts; nothing is wired after construction.

    core = build_core(store, cases, agents, bot, templates, flows, hours, wait_config, metrics)

The channels then register with `core.outbox` and hand customer messages to `core.router`; the
console subscribes to `core.bus`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from frontdesk.core.abandon import Abandonment
from frontdesk.core.agentdesk import AgentDesk
from frontdesk.core.assignment import AutoAssign
from frontdesk.core.bot_turn import Bot
from frontdesk.core.conversation import Conversations
from frontdesk.core.customer_files import CustomerFiles
from frontdesk.core.events import EventBus
from frontdesk.core.feedback import FeedbackLinks
from frontdesk.core.flows import Flows
from frontdesk.core.handoff import Handoff
from frontdesk.core.hours import Hours
from frontdesk.core.inbox import OfflineInbox
from frontdesk.core.later import Later
from frontdesk.core.leave_message import LeaveMessage
from frontdesk.core.metrics import Metrics, count_events
from frontdesk.core.outbox import Outbox
from frontdesk.core.ratings import AnswerRatings
from frontdesk.core.router import Router
from frontdesk.core.sla import Sla, SlaPolicy
from frontdesk.core.sla_watch import SlaWatch
from frontdesk.core.survey import Survey
from frontdesk.core.templates import Templates
from frontdesk.core.turns import Turns
from frontdesk.core.wait_config import WaitConfig
from frontdesk.core.waits import Waits
from frontdesk.files.storage import FileLinks, FileStore
from frontdesk.store.base import AgentStore, CaseStore, MailOutbox, Store, TurnLedger


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
    later: Later
    inbox: OfflineInbox
    abandonment: Abandonment
    sla_watch: SlaWatch  # publishes breaches of flows/sla.yml's targets (run by the gateway)


def build_core(
    store: Store,
    cases: CaseStore,
    agents: AgentStore,
    ledger: TurnLedger,
    process_id: str,
    bot: Bot,
    templates: Templates,
    flows: Flows,
    hours: Hours,
    wait_config: WaitConfig,
    metrics: Metrics,
    typing_delay: float = 0.7,
    clock: Callable[[], float] = time.time,
    mail: MailOutbox | None = None,
    mail_sending: bool = False,
    secret: bytes = b"",
    base_url: str = "",
    files: FileStore | None = None,
    file_links: FileLinks | None = None,
    sla: SlaPolicy | None = None,
) -> Core:
    """mail: the e-mail outbox (answers to left messages, satisfaction links signed with
    `secret`, pointing at `base_url`); mail_sending: SMTP is set up, answers may be written;
    files, file_links: where photos and files are kept, and their signed links; sla: the
    service-level targets (flows/sla.yml; None: its defaults)."""
    bus = EventBus()
    deadlines = Sla(sla or SlaPolicy(), hours, clock)
    conversations = Conversations(store, bus, templates.default_language, clock)
    later = Later()
    outbox = Outbox(store, metrics, later)
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
    handoff = Handoff(
        conversations, store, cases, outbox, templates, flows, waits, leave, bus, deadlines
    )
    abandonment = Abandonment(conversations, cases, handoff, wait_config, clock)
    survey = Survey(conversations, cases, outbox, templates, bus)
    desk = AgentDesk(
        conversations,
        store,
        cases,
        agents,
        outbox,
        templates,
        flows,
        survey,
        bus,
        files=files,
        links=file_links,
        clock=clock,
        sla=deadlines,
    )
    turns = Turns(ledger, store, process_id, later)
    router = Router(
        conversations,
        store,
        bot,
        outbox,
        templates,
        flows,
        handoff,
        survey,
        metrics,
        turns,
        typing_delay,
        CustomerFiles(store, cases, handoff, outbox, templates, bus),
        pages=abandonment,
    )
    auto_assign = AutoAssign(desk, flows.auto_assign)
    waits.subscribe(bus)
    auto_assign.subscribe(bus)
    count_events(bus, metrics)
    ratings = AnswerRatings(conversations, store, outbox, templates, bus)
    links = FeedbackLinks(mail, secret, base_url) if mail is not None and secret else None
    inbox = OfflineInbox(
        desk,
        conversations,
        cases,
        outbox,
        templates,
        bus,
        hours.zone,
        mail,
        links,
        mail_sending,
        clock,
    )
    return Core(
        bus,
        conversations,
        outbox,
        router,
        handoff,
        waits,
        desk,
        ratings,
        auto_assign,
        later,
        inbox,
        abandonment,
        SlaWatch(cases, agents, deadlines, bus, clock),
    )
