"""Leads are alerted in the console when a service-level target is breached (flows/sla.yml).

The breach is published once per case and target, by the gateway process that saw it first
(core/sla_watch.py); the console event `sla_breach` goes to the room every lead's and admin's
console joins on connecting (through the Socket.IO Redis manager, so leads connected to other
processes hear it too). The console shows it as an alert with a chime and a desktop
notification (console/static/alerts.js); the queue and case card mark the case themselves.
"""

from __future__ import annotations

from typing import Any, Protocol

from frontdesk.console.roles import LEADS, role_of
from frontdesk.core.agentdesk import AgentDesk
from frontdesk.core.casecard import customer_label
from frontdesk.core.events import EventBus, SlaBreached
from frontdesk.errors import DeskError

LEADS_ROOM = "leads"


class Emitter(Protocol):
    async def emit(self, event: str, data: Any = None, room: str | None = None) -> None: ...

    async def enter_room(self, sid: str, room: str) -> None: ...


class SlaAlerts:
    def __init__(self, namespace: Emitter, desk: AgentDesk) -> None:
        self.namespace = namespace
        self.desk = desk

    def subscribe(self, bus: EventBus) -> None:
        bus.subscribe(SlaBreached, self.breached)

    async def join(self, sid: str, agent: str) -> None:
        """A lead's (or admin's) console hears the breaches."""
        if role_of(await self.desk.agents.get(agent)) in LEADS:
            await self.namespace.enter_room(sid, LEADS_ROOM)

    async def breached(self, event: SlaBreached) -> None:
        case = await self.desk.cases.get(event.case_id)
        if not case:
            return
        try:
            holder = await self.desk.agent(event.agent) if event.agent else None
        except DeskError:  # an account removed meanwhile
            holder = {"display_name": event.agent}
        alert = {
            "case_id": event.case_id,
            "conversation_id": event.conversation_id,
            "target": event.target,
            "due_at": event.due_at,
            "agent": event.agent or None,
            "agent_name": holder["display_name"] if holder else None,
            "customer": customer_label(case),
            "area": case.get("area") or None,
            "channel": case.get("channel") or None,
            "kind": case.get("kind") or "live",
        }
        await self.namespace.emit("sla_breach", alert, room=LEADS_ROOM)
