"""The breach check: one periodic sweep over the open cases that publishes `SlaBreached` once
per case and target (flows/sla.yml, core/sla.py).

Every gateway process runs it; the case field `sla_<target>_breached` is set with the store's
set-once (HSETNX in Redis) before the event is published, so whichever process sees a breach
first publishes it and the others never do — also after a restart. The open cases are the live
queue, the offline inbox and what each agent holds; a case closed between two sweeps after its
deadline is not alerted on (it is counted as missed in the reports all the same).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from frontdesk.core.events import EventBus, SlaBreached
from frontdesk.core.periodic import repeat
from frontdesk.core.sla import FIRST, RESOLVE, TARGETS, Sla, done_at
from frontdesk.store.base import AgentStore, CaseStore

log = logging.getLogger(__name__)


@dataclass
class SlaWatch:
    cases: CaseStore
    agents: AgentStore
    sla: Sla
    bus: EventBus
    clock: Callable[[], float] = time.time

    async def open_cases(self) -> list[dict[str, str]]:
        ids = [c for c, _ in await self.cases.queue()] + [c for c, _ in await self.cases.messages()]
        for name in await self.agents.names():
            ids += await self.cases.agent_cases(name) + await self.cases.agent_messages(name)
        return [row for row in await self.cases.get_many(list(dict.fromkeys(ids))) if row]

    async def check(self) -> int:
        """Publish every breach not published yet; how many were."""
        now = self.clock()
        published = 0
        for case in await self.open_cases():
            for target in (FIRST, RESOLVE):
                due = _due(case, target)
                if due is None or now < due or case.get(f"sla_{target}_breached"):
                    continue
                finished = done_at(case, target)
                if finished is not None and finished <= due:
                    continue  # met
                if not await self.cases.set_once(
                    case["id"], f"sla_{target}_breached", f"{now:.3f}"
                ):
                    continue  # another process published it
                event = SlaBreached(
                    case["id"],
                    case.get("conversation_id", ""),
                    TARGETS[target],
                    due,
                    case.get("agent", "") if case.get("state") == "agent" else "",
                )
                await self.bus.publish(event)
                published += 1
        return published

    async def run(self) -> None:
        """The check, forever (a task of the gateway)."""
        await repeat("SLA check", self._check_once, self.sla.policy.check_every_seconds)

    async def _check_once(self) -> None:
        breached = await self.check()
        if breached:
            log.info("%d service-level target(s) breached", breached)


def _due(case: dict[str, str], target: str) -> float | None:
    try:
        value = case.get(f"sla_{target}_due")
        return float(value) if value else None
    except ValueError:
        return None
