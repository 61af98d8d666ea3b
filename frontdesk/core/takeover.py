"""Taking over a case another agent has.

Only the agent who has a case acts on it: a second agent replies, notes, tags, transfers or
closes only after taking it over, explicitly ("Take over" in the console). The case then moves
to her in one step of the case store (the transfer script: it still had its holder, and her
capacity holds, as for a claim), the former holder's console is told who took it
(`case_taken_over`), and the customer reads who took over, in the conversation's language
(`agent_took_over` in flows/messages/). A left message (answered by e-mail) moves without a
word in the chat: the customer is not in one.
"""

from __future__ import annotations

from typing import Any

from frontdesk.core.agentdesk import AgentDesk
from frontdesk.core.conversation import CaseKind, CaseState
from frontdesk.core.events import CaseTransferred
from frontdesk.core.messages import Outbound
from frontdesk.errors import DeskError


async def take_over(desk: AgentDesk, agent: str, case_id: str) -> dict[str, Any]:
    """The case moves from whoever has it to `agent`; her case view of it."""
    case = await desk.cases.get(case_id)
    if not case:
        raise DeskError("unknown_case", "that conversation does not exist")
    source = case.get("agent") or ""
    if case.get("state") != CaseState.AGENT or not source:
        raise DeskError("not_held", "nobody has this conversation now: claim it instead")
    if source == agent:
        raise DeskError("already_yours", "you already have this conversation")
    info = await desk.agent(agent)
    result = await desk.cases.transfer(case_id, source, agent, info["capacity"])
    if result == -1:
        raise DeskError("at_capacity", f"you already have {info['capacity']} conversations open")
    if result == 0:
        raise DeskError("already_taken", "this conversation moved on meanwhile; open it again")
    old = (await desk.holder(case) or {}).get("display_name") or source
    conversation_id = case["conversation_id"]
    if case.get("kind") == CaseKind.MESSAGE:  # answered by e-mail: no chat to tell
        await desk.bus.publish(
            CaseTransferred(case_id, conversation_id, source, agent, taken_over=True)
        )
        return await desk.case_view(agent, case_id)
    conversation = await desk.conversations.get(conversation_id)
    new = info["display_name"]
    text = desk.templates.render(conversation.language, "agent_took_over", old=old, new=new)
    await desk.outbox.event(conversation.id, conversation.channel, "agent_joined", {"name": new})
    await desk.outbox.send(conversation.id, conversation.channel, Outbound(text, role="system"))
    await desk.conversations.transfer(conversation_id, case_id, source, agent, taken_over=True)
    return await desk.case_view(agent, case_id)
