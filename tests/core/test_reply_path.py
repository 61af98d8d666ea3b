"""The short paths a message takes (issue 20): a customer's message is routed by the state it
was stored in unless a turn before it changes that state; an agent's reply is stored only while
the agent holds the case, even when this process remembers the case from an earlier reply."""

from __future__ import annotations

import pytest

from frontdesk.core.conversation import State
from frontdesk.core.events import CustomerSaid
from frontdesk.core.messages import Inbound
from frontdesk.errors import DeskError
from tests.core.conftest import Desk, person


async def _with_agent(desk: Desk, agent: str = "maria") -> str:
    await desk.open("c1")
    await desk.agent_online(agent)
    desk.bot.script["a person please"] = person()
    await desk.say("c1", "a person please")
    case_id = (await desk.conversation("c1")).case_id
    await desk.core.desk.claim(agent, case_id)
    return case_id


async def test_a_message_right_behind_a_handoff_follows_the_new_state(desk: Desk) -> None:
    await desk.open("c1")
    await desk.agent_online("maria")
    desk.bot.script["a person please"] = person()
    router = desk.core.router
    # Both stored before the first turn runs: the second was stored while the conversation
    # was the bot's, and is routed by the state the first turn left: waiting for a person,
    # so what the customer adds reaches the case card.
    await router.accept(Inbound("c1", "widget", "a person please"))
    await router.accept(Inbound("c1", "widget", "my parcel never came"))
    await router.idle()
    conversation = await desk.conversation("c1")
    assert conversation.state is State.QUEUED
    view = await desk.core.desk.case_view("maria", conversation.case_id)
    assert view["card"]["also_asked"] == ["my parcel never came"]


async def test_messages_to_the_agent_are_relayed_in_order(desk: Desk) -> None:
    case_id = await _with_agent(desk)
    said: list[str] = []

    async def heard(event: CustomerSaid) -> None:
        said.append(str(event.entry.get("text")))

    desk.core.bus.subscribe(CustomerSaid, heard)
    for text in ("one", "two", "three"):
        await desk.core.router.accept(Inbound("c1", "widget", text))
    await desk.core.router.idle()
    assert said == ["one", "two", "three"]
    assert (await desk.cases.get(case_id))["agent"] == "maria"


async def test_a_reply_to_a_case_taken_away_elsewhere_is_refused_and_not_sent(
    desk: Desk,
) -> None:
    case_id = await _with_agent(desk)
    await desk.core.desk.reply("maria", case_id, "Hi, I'm looking at it")
    assert desk.screen.texts("c1")[-1] == "Hi, I'm looking at it"
    # Another gateway process moves the case to Ivan (its events never reach this process).
    await desk.agents.save("ivan", {"display_name": "Ivan", "capacity": "2"})
    assert await desk.cases.transfer(case_id, "maria", "ivan", 2) == 1
    stored = len(desk.store.logs["c1"])
    with pytest.raises(DeskError) as refused:
        await desk.core.desk.reply("maria", case_id, "Still there?")
    assert refused.value.code == "not_yours"
    assert desk.screen.texts("c1")[-1] == "Hi, I'm looking at it"  # nothing sent
    assert len(desk.store.logs["c1"]) == stored  # nothing stored
    await desk.core.desk.reply("ivan", case_id, "Ivan here")
    assert desk.screen.texts("c1")[-1] == "Ivan here"


async def test_only_the_first_reply_of_a_case_sets_its_first_response_time(desk: Desk) -> None:
    case_id = await _with_agent(desk)
    desk.now[0] += 30
    await desk.core.desk.reply("maria", case_id, "first")
    first = (await desk.cases.get(case_id))["first_reply_at"]
    desk.now[0] += 30
    await desk.core.desk.reply("maria", case_id, "second")
    assert (await desk.cases.get(case_id))["first_reply_at"] == first
