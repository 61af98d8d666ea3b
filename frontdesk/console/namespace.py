"""The agents' Socket.IO namespace (/agent); also how the core notifies the console."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import socketio

from frontdesk.channels.emitting import across_processes
from frontdesk.channels.packets import refusal
from frontdesk.channels.widget import is_connection
from frontdesk.channels.widget_input import valid_text
from frontdesk.channels.widget_shapes import plain_room
from frontdesk.console.auth import agent_from_token
from frontdesk.console.case_presence import CasePresence
from frontdesk.console.case_viewers import CaseViewers, case_room
from frontdesk.console.sla_alerts import SlaAlerts
from frontdesk.core.agentdesk import AgentDesk
from frontdesk.core.events import (
    AgentsChanged,
    CaseAssigned,
    CaseCancelled,
    CaseClosed,
    CaseQueued,
    CaseTransferred,
    CaseUpdated,
    CustomerPresence,
    CustomerSaid,
    CustomerTyping,
    Event,
    EventBus,
    MailStatusChanged,
    MessageLeft,
)
from frontdesk.core.inbox import OfflineInbox
from frontdesk.errors import DeskError, StoreUnavailable
from frontdesk.store.cases import CaseStore as RedisCases

log = logging.getLogger(__name__)

NAMESPACE = "/agent"
ALL_AGENTS = "agents"
MAX_REPLY = 5000
MAX_ANSWER = 20_000  # an e-mail answer may be longer than a chat reply


def agent_room(agent: str) -> str:
    return f"agent:{agent}"


class AgentNamespace(CasePresence):
    """Agents act through Socket.IO events (each answered with an ack); what changes in the
    core reaches them as domain events from the bus, turned into the console's events
    (documented in console/static/events.js). Who is on a case: console/case_presence.py."""

    def __init__(
        self,
        desk: AgentDesk,
        secret: bytes,
        inbox: OfflineInbox,
        viewers: CaseViewers | None = None,
    ) -> None:
        super().__init__(NAMESPACE)
        self.desk = desk
        self.secret = secret
        self.inbox = inbox
        self.sla_alerts = SlaAlerts(self, desk)  # leads hear of breached targets
        if viewers is None and isinstance(desk.cases, RedisCases):
            viewers = CaseViewers(desk.cases.redis, desk.clock)
        self.viewers = viewers

    # -- domain events -> console events ---------------------------------------------------------

    def subscribe(self, bus: EventBus) -> None:
        for kind in (CaseQueued, CaseCancelled):
            bus.subscribe(kind, self._queue_changed)
        bus.subscribe(MessageLeft, self._messages_changed)
        bus.subscribe(MailStatusChanged, self._mail_status)
        bus.subscribe(CustomerPresence, self._customer_presence)
        bus.subscribe(CaseUpdated, self._case_updated)
        bus.subscribe(CaseAssigned, self._case_assigned)
        bus.subscribe(CaseTransferred, self._case_transferred)
        bus.subscribe(CaseClosed, self._case_closed)
        bus.subscribe(CustomerSaid, self._customer_said)
        bus.subscribe(CustomerTyping, self._customer_typing)
        bus.subscribe(AgentsChanged, self._agents_changed)
        self.sla_alerts.subscribe(bus)

    async def _queue_changed(self, event: Event | None = None) -> None:
        await self.emit("queue", {"items": await self.desk.queue_items()}, room=ALL_AGENTS)

    async def _messages_changed(self, event: Event | None = None) -> None:
        """The offline inbox: left messages and answers whose e-mail is not delivered yet."""
        await self.emit("messages", await self._messages(), room=ALL_AGENTS)

    async def _messages(self) -> dict[str, Any]:
        return {"items": await self.inbox.items(), "mail_enabled": self.inbox.enabled}

    async def _mail_status(self, event: MailStatusChanged) -> None:
        status = {
            "case_id": event.case_id,
            "state": event.state,
            "error": event.error,
            "attempts": event.attempts,
            "next_attempt_at": event.next_attempt_at,
        }
        await self.emit("mail_status", status, room=ALL_AGENTS)
        await self._messages_changed()

    def customer_online(self, conversation_id: str) -> bool | None:
        """Whether the customer has a page with the chat open; None when this process cannot
        know (with SOCKETIO_REDIS the page may be connected to another gateway process)."""
        manager = self.server.manager
        if across_processes(manager):
            return None
        rooms = [conversation_id, plain_room(conversation_id)]
        return any(True for _ in manager.get_participants("/", rooms))

    def _with_presence(self, view: dict[str, Any]) -> dict[str, Any]:
        conversation_id = str(view.get("card", {}).get("conversation_id") or "")
        return {**view, "customer_online": self.customer_online(conversation_id)}

    async def _customer_presence(self, event: CustomerPresence) -> None:
        conversation = await self.desk.conversations.get(event.conversation_id)
        if not conversation.case_id:
            return
        presence = {
            "case_id": conversation.case_id,
            "conversation_id": event.conversation_id,
            "online": event.online,
        }
        await self.emit("customer_presence", presence, room=ALL_AGENTS)

    async def _agents_changed(self, event: Event | None = None) -> None:
        await self.emit("agents", {"items": await self.desk.agents_overview()}, room=ALL_AGENTS)

    async def _assigned(self, agent: str, case_id: str) -> None:
        view = self._with_presence(await self.desk.case_view(agent, case_id))
        await self.emit("case_assigned", {"case": view}, room=agent_room(agent))
        await self._my_cases(agent)
        await self.holder_changed(case_id)

    async def _case_assigned(self, event: CaseAssigned) -> None:
        await self._assigned(event.agent, event.case_id)
        if event.waiting:
            await self._queue_changed()
        else:  # a left message was taken
            await self._messages_changed()
        await self._agents_changed()

    async def _case_transferred(self, event: CaseTransferred) -> None:
        if event.taken_over:  # the former holder's console says who took it
            taker = await self.desk.holder({"agent": event.target, "state": "agent"})
            taken = {"case_id": event.case_id, "by": taker}
            await self.emit("case_taken_over", taken, room=agent_room(event.source))
        else:
            closed = {"case_id": event.case_id}
            await self.emit("case_closed", closed, room=agent_room(event.source))
        await self._my_cases(event.source)
        await self._assigned(event.target, event.case_id)
        await self._agents_changed()

    async def _case_closed(self, event: CaseClosed) -> None:
        await self.emit("case_closed", {"case_id": event.case_id}, room=agent_room(event.agent))
        await self._my_cases(event.agent)
        await self._agents_changed()
        await self._messages_changed()  # a left message answered or closed leaves the inbox
        await self.holder_changed(event.case_id)

    async def _case_updated(self, event: CaseUpdated) -> None:
        view = self._with_presence(await self.desk.case_view(event.agent, event.case_id))
        room = agent_room(event.agent) if event.agent else ALL_AGENTS
        await self.emit("case_updated", {"case": view}, room=room)
        await self._queue_changed()

    async def _customer_said(self, event: CustomerSaid) -> None:
        entry = {"case_id": event.case_id, "entry": self.desk.sign(event.entry)}
        rooms = [agent_room(event.agent), case_room(event.case_id)]  # colleagues on it too
        await self.emit("case_message", entry, room=rooms)

    async def _customer_typing(self, event: CustomerTyping) -> None:
        """To the agent who has the case only: the draft is for her eyes."""
        typing: dict[str, Any] = {"case_id": event.case_id, "typing": event.typing}
        if event.draft is not None:
            typing["draft"] = event.draft
        await self.emit("customer_typing", typing, room=agent_room(event.agent))

    async def _my_cases(self, agent: str) -> None:
        await self.emit(
            "my_cases", {"items": await self.desk.my_cases(agent)}, room=agent_room(agent)
        )

    # -- connection -----------------------------------------------------------------------------

    async def trigger_event(self, event: Any, *args: Any) -> Any:
        """An event no handler takes (an unknown or reserved name such as a forged
        "disconnect", extra arguments, an unreadable packet) gets an error ack, nothing else."""
        refused = refusal(self, event, args)
        if refused is None:
            return await super().trigger_event(event, *args)
        return _error(*refused)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if not is_connection(environ):
            return  # a client emitted an event named "connect": not a connection
        token = auth.get("token") if isinstance(auth, dict) else None
        agent = agent_from_token(self.secret, token)
        if agent is None or not await self.desk.agents.get(agent):
            raise socketio.exceptions.ConnectionRefusedError("please log in to the console")
        await self.save_session(sid, {"agent": agent})
        await self.enter_room(sid, ALL_AGENTS)
        await self.enter_room(sid, agent_room(agent))
        await self.sla_alerts.join(sid, agent)
        await self.desk.agents.connected(agent, +1)
        info = await self.desk.agent(agent)
        presence = await self.desk.agents.presence()
        language = self.desk.templates.default_language
        canned = self.desk.flows.canned_for(language, language)
        hello = {
            "agent": {**info, "status": presence.get(agent, ("available", 1))[0]},
            "canned": [{"key": c.key, "title": c.title} for c in canned.values()],
            "tags": list(self.desk.flows.tags),
            "agents": await self.desk.agents_overview(),
            "mail_enabled": self.inbox.enabled,
        }
        await self.emit("hello", hello, to=sid)
        await self.emit("queue", {"items": await self.desk.queue_items()}, to=sid)
        await self.emit("messages", await self._messages(), to=sid)
        await self.emit("my_cases", {"items": await self.desk.my_cases(agent)}, to=sid)
        await self.desk.bus.publish(AgentsChanged())  # others see them; waiting cases may go

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = await self.get_session(sid)
        agent = session.get("agent")
        await self.forget_viewing(sid, session)
        if agent:
            await self.desk.connected(agent, -1)

    # -- actions (each answers {ok: true, ...} or {ok: false, error: {code, message}}) -----------

    async def _act(
        self,
        sid: str,
        data: Any,
        action: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        session = await self.get_session(sid)
        agent = session.get("agent")
        if not agent:
            return _error("not_logged_in", "please log in again")
        if not isinstance(data, dict):
            return _error("bad_request", "expected an object")
        try:
            return {"ok": True, **await action(agent, data)}
        except DeskError as exc:
            return _error(exc.code, exc.message)
        except StoreUnavailable as exc:
            log.error("agent action failed: %s", exc)
            return _error("store_unavailable", "the conversation store is unavailable; try again")
        except (KeyError, TypeError, ValueError) as exc:
            return _error("bad_request", f"missing or bad field: {exc}")

    async def on_presence(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            await self.desk.set_presence(agent, str(d["status"]))
            return {}

        return await self._act(sid, data, act)

    async def on_claim(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            return {"case": self._with_presence(await self.desk.claim(agent, _id(d)))}

        return await self._act(sid, data, act)

    async def on_open_case(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            return {"case": self._with_presence(await self.desk.case_view(agent, _id(d)))}

        return await self._act(sid, data, act)

    async def on_reply(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            case_id = _id(d)
            file_id = d.get("attachment_id") or None
            if file_id is not None and not isinstance(file_id, str):
                raise DeskError("bad_request", "attachment_id must be text")
            captioned = file_id is None or str(d.get("text") or "").strip()
            text = _text(d, MAX_REPLY) if captioned else ""
            entry = await self.desk.reply(agent, case_id, text, file_id)
            # The agent's other consoles, and colleagues on the case, see the reply too; this
            # one has it from the ack.
            await self.emit(
                "case_message",
                {"case_id": case_id, "entry": entry},
                room=[agent_room(agent), case_room(case_id)],
                skip_sid=sid,
            )
            if entry.get("attachment"):  # with its signed link, for the console to show
                return {"seq": entry["seq"], "attachment": entry["attachment"]}
            return {"seq": entry["seq"]}

        return await self._act(sid, data, act)

    async def on_note(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            return {"note": await self.desk.note(agent, _id(d), _text(d, MAX_REPLY))}

        return await self._act(sid, data, act)

    async def on_typing(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            case_id, typing = _id(d), bool(d.get("typing"))
            await self.agent_typing(sid, agent, case_id, typing)  # colleagues on it see it
            await self.desk.typing(agent, case_id, typing)
            return {}

        return await self._act(sid, data, act)

    async def on_canned(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            return {"text": await self.desk.canned(agent, _id(d), str(d["key"]))}

        return await self._act(sid, data, act)

    async def on_tags(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            tags = d.get("tags")
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise DeskError("bad_request", "tags must be a list of text")
            return {"tags": await self.desk.set_tags(agent, _id(d), tags)}

        return await self._act(sid, data, act)

    async def on_transfer(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            await self.desk.transfer(agent, _id(d), str(d["to"]))
            return {}

        return await self._act(sid, data, act)

    async def on_close(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            await self.desk.close(agent, _id(d))
            return {}

        return await self._act(sid, data, act)

    async def on_answer_message(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Answer a left message by e-mail (it is closed with the answer)."""

        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            return await self.inbox.answer(agent, _id(d), _text(d, MAX_ANSWER))

        return await self._act(sid, data, act)

    async def on_retry_mail(self, sid: str, data: Any = None) -> dict[str, Any]:
        async def act(agent: str, d: dict[str, Any]) -> dict[str, Any]:
            return await self.inbox.retry(agent, _id(d))

        return await self._act(sid, data, act)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def _id(data: Mapping[str, Any]) -> str:
    case_id = data.get("case_id")
    if not isinstance(case_id, str) or not case_id or len(case_id) > 64:
        raise DeskError("bad_request", "case_id is missing")
    return case_id


def _text(data: Mapping[str, Any], limit: int) -> str:
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DeskError("empty_message", "the text is empty")
    if len(text) > limit:
        raise DeskError("message_too_long", f"the text is longer than {limit} characters")
    if not valid_text(text):
        raise DeskError("bad_request", "the text must be valid Unicode (no lone surrogates)")
    return text
