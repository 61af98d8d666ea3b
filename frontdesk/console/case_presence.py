"""Who is on a case, live, in the console: the agents viewing it and who is typing; who has it,
and "Take over" (frontdesk.core.takeover).

A console says which case it has open (`viewing {case_id}`, again every HEARTBEAT seconds;
`{case_id: null}` when it closes it). It then is in the case's room (`case:<id>`), where the
server sends `case_viewers` (every agent on the case, with who is typing), `case_holder` (who
has the case, when that changes) and the case's new messages, to the consoles of every gateway
process (the Socket.IO Redis manager carries room emits; the viewers themselves are kept in
Redis: frontdesk.console.case_viewers). Events and actions are documented in
console/static/events.js.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio

from frontdesk.console.case_viewers import CaseViewers, case_room
from frontdesk.core.agentdesk import AgentDesk
from frontdesk.core.takeover import take_over
from frontdesk.errors import DeskError, StoreUnavailable

log = logging.getLogger(__name__)


class CasePresence(socketio.AsyncNamespace):  # type: ignore[misc]
    """The presence half of the agents' namespace (AgentNamespace builds on it)."""

    desk: AgentDesk
    viewers: CaseViewers | None

    async def on_viewing(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`{case_id}` (or `{case_id: null}`): this console has that case open (or none)."""
        session = await self.get_session(sid)
        agent = session.get("agent")
        if not agent:
            return _error("not_logged_in", "please log in again")
        wanted = data.get("case_id") if isinstance(data, dict) else ""
        if wanted is not None and (not isinstance(wanted, str) or not 0 < len(wanted) <= 64):
            return _error("bad_request", "case_id must be a case id, or null")
        try:
            if wanted is not None and not await self.desk.cases.get(wanted):
                return _error("unknown_case", "that conversation does not exist")
            await self._view(sid, session, agent, wanted)
            listed = await self._listed(wanted) if wanted else []
        except StoreUnavailable as exc:
            log.warning("viewing: %s", exc)
            return _error("store_unavailable", "the conversation store is unavailable; try again")
        return {"ok": True, "viewers": listed}

    async def _view(
        self, sid: str, session: dict[str, Any], agent: str, case_id: str | None
    ) -> None:
        previous = session.get("viewing")
        if previous and previous != case_id:
            await self.leave_case(sid, previous)
        session["viewing"] = case_id
        await self.save_session(sid, session)
        if case_id is None or self.viewers is None:
            return
        await self.enter_room(sid, case_room(case_id))
        if await self.viewers.view(case_id, sid, agent):
            await self.viewers_changed(case_id)

    async def leave_case(self, sid: str, case_id: str) -> None:
        """The console `sid` no longer views the case (another one opened, or it left)."""
        await self.leave_room(sid, case_room(case_id))
        if self.viewers is not None and await self.viewers.leave(case_id, sid):
            await self.viewers_changed(case_id)

    async def agent_typing(self, sid: str, agent: str, case_id: str, typing: bool) -> None:
        """The agent typing a reply on the case they view (colleagues on it see it)."""
        session = await self.get_session(sid)
        if self.viewers is None or session.get("viewing") != case_id:
            return
        if await self.viewers.typing(case_id, sid, agent, typing):
            await self.viewers_changed(case_id)

    async def viewers_changed(self, case_id: str) -> None:
        listed = await self._listed(case_id)
        payload = {"case_id": case_id, "viewers": listed}
        await self.emit("case_viewers", payload, room=case_room(case_id))

    async def _listed(self, case_id: str) -> list[dict[str, Any]]:
        if self.viewers is None:
            return []
        listed = []
        for viewer in await self.viewers.viewers(case_id):
            try:
                shown = (await self.desk.agent(viewer.agent))["display_name"]
            except DeskError:  # an account removed meanwhile
                shown = viewer.agent
            listed.append({"name": viewer.agent, "display_name": shown, "typing": viewer.typing})
        return listed

    async def holder_changed(self, case_id: str) -> None:
        """Tell the consoles on the case who has it now (assigned, taken over, closed)."""
        case = await self.desk.cases.get(case_id)
        payload = {
            "case_id": case_id,
            "holder": await self.desk.holder(case) if case else None,
            "state": case.get("state") if case else None,
        }
        await self.emit("case_holder", payload, room=case_room(case_id))

    async def forget_viewing(self, sid: str, session: dict[str, Any]) -> None:
        """The console went away: it views nothing any more."""
        viewing = session.get("viewing")
        if viewing:
            try:
                await self.leave_case(sid, viewing)
            except StoreUnavailable as exc:
                log.warning("viewing: %s", exc)

    async def on_take_over(self, sid: str, data: Any = None) -> dict[str, Any]:
        """`{case_id}`: take a case another agent has (frontdesk.core.takeover)."""
        session = await self.get_session(sid)
        agent = session.get("agent")
        if not agent:
            return _error("not_logged_in", "please log in again")
        case_id = data.get("case_id") if isinstance(data, dict) else None
        if not isinstance(case_id, str) or not 0 < len(case_id) <= 64:
            return _error("bad_request", "case_id is missing")
        try:
            view = await take_over(self.desk, agent, case_id)
        except DeskError as exc:
            return _error(exc.code, exc.message)
        except StoreUnavailable as exc:
            log.error("take_over: %s", exc)
            return _error("store_unavailable", "the conversation store is unavailable; try again")
        return {"ok": True, "case": view}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}
