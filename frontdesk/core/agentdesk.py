"""The agent's side: claim, reply, notes, canned replies, tags, transfer, close."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from frontdesk.core.casecard import card, customer_label, earlier_item, queue_item
from frontdesk.core.conversation import (
    CaseKind,
    CaseState,
    Conversations,
    State,
    TransitionRefused,
)
from frontdesk.core.events import AgentReplied, AgentsChanged, EventBus
from frontdesk.core.flows import Flows
from frontdesk.core.messages import Outbound
from frontdesk.core.outbox import NotStored, Outbox
from frontdesk.core.sla import Sla
from frontdesk.core.survey import Survey
from frontdesk.core.templates import Templates
from frontdesk.errors import DeskError
from frontdesk.files.storage import FileLinks, FileStore
from frontdesk.store.base import AgentStore, CaseStore, Store

MAX_NOTE = 5000
AGENT_CACHE_SECONDS = 30.0
MAX_REPLYING = 10_000  # cases remembered by this process for their agent's next reply


class AgentDesk:
    """What agents do, and the views the console shows them. Changes are published on the
    bus (the console, waits and auto-assignment listen); nothing here calls the console."""

    def __init__(
        self,
        conversations: Conversations,
        store: Store,
        cases: CaseStore,
        agents: AgentStore,
        outbox: Outbox,
        templates: Templates,
        flows: Flows,
        survey: Survey,
        bus: EventBus,
        files: FileStore | None = None,
        links: FileLinks | None = None,
        clock: Callable[[], float] = time.time,
        sla: Sla | None = None,
    ) -> None:
        self.clock = clock
        self.sla = sla  # where each case stands against flows/sla.yml (time left, breached)
        self.files = files
        self.links = links
        self.conversations = conversations
        self.store = store
        self.cases = cases
        self.agents = agents
        self.outbox = outbox
        self.templates = templates
        self.flows = flows
        self.survey = survey
        self.bus = bus
        self._agents: dict[str, tuple[float, dict[str, Any]]] = {}
        # (agent, case id) -> the case as read at the agent's first reply in it: what a reply
        # needs of it never changes (its conversation, channel, kind, request time). Whether
        # the agent still holds it is checked by the store with each reply, in the same step.
        self._replying: dict[tuple[str, str], dict[str, str]] = {}
        # The words of "Send me the transcript" per language, when transcripts can be e-mailed
        # (set by frontdesk.mail.web.offer_transcripts): the closing's agent_left carries them.
        self.transcript_offer: Callable[[str], dict[str, str]] | None = None

    # -- reading ----------------------------------------------------------------------------------

    async def agent(self, name: str) -> dict[str, Any]:
        """An agent's name, display name and capacity (cached briefly: read on every reply)."""
        cached = self._agents.get(name)
        if cached is not None and time.monotonic() - cached[0] < AGENT_CACHE_SECONDS:
            return cached[1]
        row = await self.agents.get(name)
        if not row:
            raise DeskError("unknown_agent", f"there is no agent {name!r}")
        info = {
            "name": name,
            "display_name": row.get("display_name") or name,
            "capacity": int(row.get("capacity") or self.flows.agent_capacity),
        }
        self._agents[name] = (time.monotonic(), info)
        return info

    async def queue_items(self) -> list[dict[str, Any]]:
        """The live queue, oldest request first. Left messages are not in it: they are the
        offline inbox (frontdesk.core.inbox), answered by e-mail."""
        waiting = await self.cases.queue()
        now = self.clock()
        rows = await self.cases.get_many([case_id for case_id, _ in waiting])
        return [{**queue_item(row, now), "sla": self.sla_view(row, now)} for row in rows]

    def sla_view(self, case: Mapping[str, str], now: float | None = None) -> dict[str, Any] | None:
        """The case against its service-level targets (None: no targets on it)."""
        return self.sla.view(case, now) if self.sla is not None else None

    async def my_cases(self, agent: str) -> list[dict[str, Any]]:
        """The agent's live chats, then the left messages they took (kind "message": answered
        by e-mail, they hold no capacity slot)."""
        held = await self.cases.agent_cases(agent) + await self.cases.agent_messages(agent)
        rows = await self.cases.get_many(held)
        return [
            {
                "case_id": r["id"],
                "customer": customer_label(r),
                "channel": r.get("channel"),
                "area": r.get("area"),
                "state": r.get("state"),
                "kind": r.get("kind") or CaseKind.LIVE.value,
            }
            for r in rows
        ]

    async def agents_overview(self) -> list[dict[str, Any]]:
        names = await self.agents.names()
        presence = await self.agents.presence()
        loads = await self.cases.loads(names)
        overview = []
        for name in names:
            info = await self.agent(name)
            status, connections = presence.get(name, ("away", 0))
            overview.append(
                {
                    **info,
                    "status": status if connections else "offline",
                    "load": loads.get(name, 0),
                }
            )
        return overview

    async def case_view(self, agent: str, case_id: str) -> dict[str, Any]:
        case = await self._held(agent, case_id, allow_queued=True)
        conversation_id = case["conversation_id"]
        transcript = await self.store.history(conversation_id, 0, 1000)
        earlier_ids = [c for c in await self.cases.customer_cases(conversation_id) if c != case_id]
        earlier = [earlier_item(row) for row in await self.cases.get_many(earlier_ids)]
        shown = card(case, transcript, self.flows.reasons)
        shown["attachments"] = [self.signed(a) for a in shown["attachments"]]
        shown["sla"] = self.sla_view(case, self.clock())
        return {
            "holder": await self.holder(case),
            "card": shown,
            "transcript": [
                self.sign(e) for e in transcript if int(e["seq"]) >= int(case.get("start_seq") or 1)
            ],
            "earlier": earlier,
            "notes": await self.cases.notes(case_id),
            "tags": json.loads(case.get("tags") or "[]"),
        }

    async def holder(self, case: Mapping[str, str]) -> dict[str, str] | None:
        """Who has the case now ({name, display_name}), or None (waiting, closed)."""
        name = case.get("agent") or ""
        if not name or case.get("state") != CaseState.AGENT:
            return None
        try:
            return {"name": name, "display_name": (await self.agent(name))["display_name"]}
        except DeskError:  # an account removed meanwhile
            return {"name": name, "display_name": name}

    def sign(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """A transcript entry with a signed, expiring link on its photo or file."""
        return self.links.sign_entry(entry) if self.links is not None else dict(entry)

    def signed(self, attachment: Mapping[str, Any]) -> dict[str, Any]:
        return self.links.signed(attachment) if self.links is not None else dict(attachment)

    async def held(self, agent: str, case_id: str) -> dict[str, str]:
        """The case, if the agent holds it (DeskError otherwise)."""
        return await self._held(agent, case_id)

    async def _held(self, agent: str, case_id: str, allow_queued: bool = False) -> dict[str, str]:
        case = await self.cases.get(case_id)
        if not case:
            raise DeskError("unknown_case", "that conversation does not exist")
        if case.get("agent") == agent and case.get("state") == CaseState.AGENT:
            return case
        # A case another agent has is readable too (who is on it, and "Take over":
        # core/takeover.py); only its holder acts on it.
        readable = (
            CaseState.QUEUED,
            CaseState.CLOSED,
            CaseState.CANCELLED,
            CaseState.ABANDONED,
            CaseState.AGENT,
        )
        if allow_queued and case.get("state") in readable:
            return case
        if case.get("state") == CaseState.AGENT and case.get("agent"):
            shown = (await self.holder(case) or {}).get("display_name", "")
            raise DeskError("not_yours", f"{shown} has this conversation: take it over to act")
        raise DeskError("not_yours", "this conversation is not assigned to you")

    # -- acting -----------------------------------------------------------------------------------

    async def claim(self, agent: str, case_id: str) -> dict[str, Any]:
        info = await self.agent(agent)
        result = await self.cases.claim(case_id, agent, info["capacity"])
        if result == -1:
            raise DeskError(
                "at_capacity", f"you already have {info['capacity']} conversations open"
            )
        if result == 0:
            raise DeskError("already_taken", "someone else took this conversation, or it ended")
        case = await self.cases.get(case_id)
        conversation_id = case["conversation_id"]
        name = info["display_name"]
        if _left_message(case):  # answered by e-mail: nobody joins a chat
            await self.conversations.message_taken(conversation_id, case_id, agent, name)
            return await self.case_view(agent, case_id)
        conversation = await self.conversations.get(conversation_id)
        try:
            # The case is in the line a moment before its conversation is marked waiting (the
            # customer is given the quote first): such a claim is undone, not half-done.
            if conversation.state is not State.QUEUED:
                raise TransitionRefused(f"conversation {conversation_id} is {conversation.state}")
            await self.conversations.assign(conversation_id, case_id, agent, name)
        except TransitionRefused:
            requested = float(case.get("requested_at") or self.clock())
            await self.cases.unclaim(case_id, agent, requested)
            raise DeskError(
                "not_ready", "this customer is still being put in line: try again in a moment"
            ) from None
        await self.outbox.event(
            conversation.id, conversation.channel, "agent_joined", {"name": name}
        )
        text = self.templates.render(conversation.language, "agent_joined", name=name)
        message = Outbound(text=text, role="system")
        await self.outbox.send(conversation.id, conversation.channel, message)
        return await self.case_view(agent, case_id)

    async def reply(
        self, agent: str, case_id: str, text: str, attachment_id: str | None = None
    ) -> dict[str, Any]:
        text = text.strip()
        if not text and not attachment_id:
            raise DeskError("empty_message", "the reply is empty")
        case = self._replying.get((agent, case_id)) or await self._held(agent, case_id)
        attachment = await self._agent_file(agent, attachment_id) if attachment_id else None
        if _left_message(case):
            raise DeskError(
                "answer_by_email",
                "this customer left a message and is not in the chat: answer by e-mail",
            )
        info = await self.agent(agent)
        message = Outbound(
            text=text, role="agent", sender_name=info["display_name"], attachment=attachment
        )
        conversation_id = case["conversation_id"]

        async def append(entry: Mapping[str, Any]) -> int | None:
            return await self.cases.append_reply(case_id, agent, conversation_id, entry)

        try:
            channel = case.get("channel", "widget")
            entry = await self.outbox.send(conversation_id, channel, message, append)
        except NotStored:  # no longer the agent's: say why
            self._replying.pop((agent, case_id), None)
            await self._held(agent, case_id)
            raise DeskError("not_yours", "this conversation is not assigned to you") from None
        self._remember_replying(agent, case_id, case)
        now = self.clock()
        first: float | None = None
        if not case.get("first_reply_at"):
            if await self.cases.set_once(case_id, "first_reply_at", f"{now:.3f}"):
                first = now - float(case.get("requested_at") or now)
            case["first_reply_at"] = f"{now:.3f}"  # set (by this reply or an earlier one)
        await self.bus.publish(AgentReplied(case_id, agent, first))
        # The console that sent it shows it from the ack (and tells other tabs).
        return self.sign(entry)

    def _remember_replying(self, agent: str, case_id: str, case: dict[str, str]) -> None:
        if (agent, case_id) not in self._replying and len(self._replying) >= MAX_REPLYING:
            del self._replying[next(iter(self._replying))]  # the oldest
        self._replying[(agent, case_id)] = case

    async def _agent_file(self, agent: str, attachment_id: str) -> dict[str, Any]:
        """The file this agent uploaded for a reply (frontdesk.console.files_views)."""
        found = await self.files.get(attachment_id) if self.files is not None else None
        if found is None or found.owner != f"agent:{agent}":
            raise DeskError("unknown_file", "that file was not found; attach it again")
        return found.public()

    async def note(self, agent: str, case_id: str, text: str) -> dict[str, Any]:
        text = text.strip()
        if not text or len(text) > MAX_NOTE:
            raise DeskError("bad_note", f"a note needs 1 to {MAX_NOTE} characters")
        await self._held(agent, case_id)
        note = {"ts": self.clock(), "agent": agent, "text": text}
        await self.cases.add_note(case_id, note)
        return note

    async def typing(self, agent: str, case_id: str, typing: bool) -> None:
        case = await self._held(agent, case_id)
        if _left_message(case):
            return  # nobody is in the chat to see it
        info = await self.agent(agent)
        await self.outbox.event(
            case["conversation_id"],
            case.get("channel", "widget"),
            "agent_typing",
            {"typing": typing, "name": info["display_name"]},
        )

    async def canned(self, agent: str, case_id: str, key: str) -> str:
        case = await self._held(agent, case_id)
        language = case.get("language") or self.templates.default_language
        replies = self.flows.canned_for(language, self.templates.default_language)
        if key not in replies:
            raise DeskError("unknown_canned", f"there is no canned reply {key!r}")
        captured = json.loads(case.get("captured") or "{}")
        info = await self.agent(agent)
        order = captured.get("order_number", "")
        context = {
            "customer_name": case.get("customer_name", ""),
            "order_number": order,
            "order_ref": f"order {order}" if order else "your order",
            "email": captured.get("email") or case.get("customer_email", ""),
            "product": captured.get("product", ""),
            "agent_name": info["display_name"],
        }
        return " ".join(replies[key].template.render(**context).split())

    async def set_tags(self, agent: str, case_id: str, tags: list[str]) -> list[str]:
        await self._held(agent, case_id)
        unknown = [t for t in tags if t not in self.flows.tags]
        if unknown:
            raise DeskError("unknown_tag", f"not in flows/tags.yml: {', '.join(unknown)}")
        chosen = sorted(set(tags))
        await self.cases.update(case_id, {"tags": json.dumps(chosen)})
        return chosen

    async def transfer(self, agent: str, case_id: str, target: str) -> None:
        case = await self._held(agent, case_id)
        to = await self.agent(target)
        result = await self.cases.transfer(case_id, agent, target, to["capacity"])
        self._replying.pop((agent, case_id), None)
        if result == -1:
            raise DeskError("at_capacity", f"{to['display_name']} has no free slot")
        if result == 0:
            raise DeskError("not_yours", "this conversation is not assigned to you")
        old = (await self.agent(agent))["display_name"]
        conversation_id = case["conversation_id"]
        if _left_message(case):  # no chat to tell about it
            await self.conversations.message_passed(conversation_id, case_id, agent, target)
            return
        conversation = await self.conversations.get(conversation_id)
        text = self.templates.render(
            conversation.language, "agent_transferred", old=old, new=to["display_name"]
        )
        name = {"name": to["display_name"]}
        await self.outbox.event(conversation.id, conversation.channel, "agent_joined", name)
        message = Outbound(text=text, role="system")
        await self.outbox.send(conversation.id, conversation.channel, message)
        await self.conversations.transfer(conversation_id, case_id, agent, target)

    async def close(self, agent: str, case_id: str) -> None:
        case = await self._held(agent, case_id)
        self._replying.pop((agent, case_id), None)
        if _left_message(case):
            await self.close_message(agent, case, {"closed_without_reply": "1"})
            return
        info = await self.agent(agent)
        conversation = await self.conversations.get(case["conversation_id"])
        channel = conversation.channel
        text = self.templates.render(
            conversation.language, "closing_line", name=info["display_name"]
        )
        await self.outbox.send(conversation.id, channel, Outbound(text=text, role="system"))
        left: dict[str, Any] = {"name": info["display_name"]}
        if self.transcript_offer is not None and channel == "widget":
            left["transcript"] = self.transcript_offer(conversation.language)
        await self.outbox.event(conversation.id, channel, "agent_left", left)
        end_seq = await self.store.last_seq(conversation.id)
        await self.cases.release(
            case_id,
            agent,
            {
                "state": CaseState.CLOSED.value,
                "closed_at": f"{self.clock():.3f}",
                "end_seq": str(end_seq),
            },
        )
        conversation = await self.conversations.close(conversation.id, case_id, agent)
        await self.survey.ask(conversation)

    async def close_message(self, agent: str, case: dict[str, str], fields: dict[str, str]) -> None:
        """Close a left message the agent holds (answered by e-mail, or closed without a reply):
        no closing line and no survey in a chat the customer is not in."""
        conversation_id = case["conversation_id"]
        end_seq = await self.store.last_seq(conversation_id)
        closed = {"state": CaseState.CLOSED.value, "closed_at": f"{self.clock():.3f}"}
        await self.cases.release(case["id"], agent, {**closed, "end_seq": str(end_seq), **fields})
        await self.conversations.message_done(conversation_id, case["id"], agent)

    async def set_presence(self, agent: str, status: str) -> None:
        if status not in ("available", "away"):
            raise DeskError("bad_status", "presence is available or away")
        await self.agents.set_status(agent, status)
        await self.bus.publish(AgentsChanged())

    async def connected(self, agent: str, delta: int) -> None:
        """An agent's console connected (+1) or went away (-1)."""
        await self.agents.connected(agent, delta)
        await self.bus.publish(AgentsChanged())


def _left_message(case: dict[str, str]) -> bool:
    return case.get("kind") == CaseKind.MESSAGE
