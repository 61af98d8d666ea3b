"""Auto-assignment: with `auto_assign: true` in flows/handoff.yml, waiting customers go to the
least-loaded available agents, oldest request first. Runs when a case is queued or closed and
when agents come, go or change presence; the claim itself is atomic in the case store."""

from __future__ import annotations

import asyncio

from frontdesk.core.agentdesk import AgentDesk
from frontdesk.core.events import AgentsChanged, CaseClosed, CaseQueued, Event, EventBus
from frontdesk.errors import DeskError


class AutoAssign:
    def __init__(self, desk: AgentDesk, enabled: bool) -> None:
        self.desk = desk
        self.enabled = enabled
        self._lock = asyncio.Lock()

    def subscribe(self, bus: EventBus) -> None:
        if self.enabled:
            for kind in (CaseQueued, CaseClosed, AgentsChanged):
                bus.subscribe(kind, self._on_change)

    async def _on_change(self, event: Event) -> None:
        await self.run()

    async def run(self) -> None:
        async with self._lock:
            for case_id, _ in await self.desk.cases.queue():
                candidates = [
                    a
                    for a in await self.desk.agents_overview()
                    if a["status"] == "available" and a["load"] < a["capacity"]
                ]
                if not candidates:
                    return
                chosen = min(candidates, key=lambda a: (a["load"] / a["capacity"], a["load"]))
                try:
                    await self.desk.claim(chosen["name"], case_id)
                except DeskError:
                    continue
