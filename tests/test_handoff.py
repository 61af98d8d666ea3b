"""Handoff with full context: queue, claim, case card, reply, close, survey (real Rasa + Redis)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from frontdesk.console.auth import hash_password, socket_token
from frontdesk.console.keys import DESK, SECRET
from tests.bot_answers import response_of
from tests.support import AgentClient, WidgetClient

pytestmark = pytest.mark.rasa


@pytest.fixture
async def agent_factory(gateway: TestServer) -> AsyncIterator[Callable[..., Any]]:
    clients: list[AgentClient] = []
    desk = gateway.app[DESK]

    async def make(name: str, display_name: str, capacity: int = 3) -> AgentClient:
        fields = {
            "display_name": display_name,
            "password_hash": hash_password("secret-pass"),
            "capacity": str(capacity),
        }
        await desk.agents.save(name, fields)
        token = socket_token(gateway.app[SECRET], name)
        client = AgentClient(str(gateway.make_url("/")).rstrip("/"), token)
        clients.append(client)
        await client.connect()
        return client

    yield make
    for client in clients:
        await client.close()


def _unique(prefix: str) -> str:
    import uuid

    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def _queued_case(agent: AgentClient, conversation_id: str) -> dict[str, Any]:
    queue = await agent.until(
        "queue", lambda q: any(i["conversation_id"] == conversation_id for i in q["items"])
    )
    return next(i for i in queue["items"] if i["conversation_id"] == conversation_id)


async def test_handoff_carries_context_to_the_agent_and_ends_with_a_survey(
    widget_client_factory: Callable[..., WidgetClient],
    agent_factory: Callable[..., Any],
    gateway: TestServer,
) -> None:
    maria = await agent_factory(_unique("maria"), "Maria")
    customer = widget_client_factory()
    await customer.connect(custom={"page_url": "https://shop.example/orders"})

    await customer.say("my order 1042 arrived but the box was crushed and the item is broken")
    answer = await customer.answer()
    texts = [m.get("text", "") for m in answer]
    # A damaged item is a topic that needs a person (flows/handoff.yml): queued at once.
    assert response_of(texts[0]) == "utter_returns/damaged_item", texts
    confirm = next(t for t in texts if t.startswith("I'm bringing in a person"))
    assert "order 1042" in confirm and "damaged" in confirm
    waiting = next(m for m in answer if "in line" in m.get("text", ""))
    assert waiting["quick_replies"][0]["payload"] == "/fd_cancel_handoff"

    # While waiting, the bot still answers FAQ questions.
    await customer.say("what payment methods do you accept?")
    faq = await customer.answer()
    assert response_of(faq[0]["text"]) == "utter_billing/payment_methods"

    item = await _queued_case(maria, customer.session_id)
    assert item["area"] == "returns" and item["channel"] == "widget"
    claimed = await maria.call("claim", {"case_id": item["case_id"]})
    assert claimed["ok"], claimed
    card = claimed["case"]["card"]
    assert card["captured"]["order_number"] == "1042"
    assert card["area"] == "returns" and card["intent"] == "returns/damaged_item"
    assert 0 < card["confidence"] <= 1
    assert card["reason"] == "topic" and card["page_url"] == "https://shop.example/orders"
    assert any(response_of(a) == "utter_returns/damaged_item" for a in card["bot_answers"])
    transcript = [e["text"] for e in claimed["case"]["transcript"]]
    assert transcript[0].startswith("my order 1042 arrived")

    joined = await customer.next("agent_joined")
    assert joined == {"name": "Maria"}

    # Typing shows both ways.
    await customer.sio.emit("user_typing", {"session_id": customer.session_id, "typing": True})
    assert await maria.next("customer_typing") == {"case_id": item["case_id"], "typing": True}
    assert (await maria.call("typing", {"case_id": item["case_id"], "typing": True}))["ok"]
    assert await customer.next("agent_typing") == {"typing": True, "name": "Maria"}

    # The customer's messages now go to the agent, not the bot.
    await customer.say("thank you! it's the blue runners")
    message = await maria.until("case_message", lambda m: m["entry"]["role"] == "customer")
    assert message["entry"]["text"] == "thank you! it's the blue runners"

    reply = await maria.call("reply", {"case_id": item["case_id"], "text": "I'm on it."})
    assert reply["ok"]
    received = await customer.until_message(lambda m: m["sender"]["kind"] == "agent")
    assert received["text"] == "I'm on it." and received["sender"]["name"] == "Maria"

    note = await maria.call("note", {"case_id": item["case_id"], "text": "check courier"})
    assert note["ok"]
    tags = await maria.call("tags", {"case_id": item["case_id"], "tags": ["damaged in transit"]})
    assert tags["ok"]
    assert (await maria.call("close", {"case_id": item["case_id"]}))["ok"]

    csat = await customer.until_message(lambda m: "satisfied" in m.get("text", ""))
    assert [q["title"] for q in csat["quick_replies"]] == ["1", "2", "3", "4", "5"]
    await customer.say(csat["quick_replies"][4]["payload"], title="5")
    effort = await customer.until_message(lambda m: "How easy" in m.get("text", ""))
    await customer.say(effort["quick_replies"][3]["payload"], title="4")
    await customer.until_message(lambda m: "Anything you'd like to add" in m.get("text", ""))
    await customer.say("Quick and friendly")
    await customer.until_message(lambda m: "Thank you for your feedback" in m.get("text", ""))

    case = await gateway.app[DESK].cases.get(item["case_id"])
    assert (case["csat"], case["effort"], case["comment"]) == ("5", "4", "Quick and friendly")
    assert json.loads(case["tags"]) == ["damaged in transit"]
    for moment in ("requested_at", "joined_at", "first_reply_at", "closed_at"):
        assert float(case[moment]) > 0
    assert float(case["requested_at"]) <= float(case["joined_at"]) <= float(case["closed_at"])
    notes = await gateway.app[DESK].cases.notes(item["case_id"])
    assert [n["text"] for n in notes] == ["check courier"]
    # Notes are private: nothing about them reached the customer.
    history = await widget_client_factory(customer.session_id).connect()
    assert all("check courier" not in m.get("text", "") for m in history["messages"])

    # Back with the bot.
    await customer.say("how do I reset my password?")
    again = await customer.answer()
    assert response_of(again[0]["text"]) == "utter_account/password_reset"

    # Operators see it in the Prometheus metrics.
    async with aiohttp.ClientSession() as http, http.get(gateway.make_url("/metrics")) as resp:
        exported = await resp.text()
    assert 'frontdesk_handoffs_total{reason="topic"} 1.0' in exported
    assert "frontdesk_first_response_seconds_count 1.0" in exported
    assert 'frontdesk_survey_answers_total{question="csat",score="5"} 1.0' in exported
    assert 'frontdesk_messages_total{channel="widget",role="agent"} 1.0' in exported


async def test_asking_for_a_person_then_cancelling(
    widget_client_factory: Callable[..., WidgetClient],
    agent_factory: Callable[..., Any],
) -> None:
    agent = await agent_factory(_unique("sam"), "Sam")
    customer = widget_client_factory()
    await customer.connect()
    await customer.say("my order number is 20417")
    await customer.answer()
    await customer.say("can I talk to a human?")
    texts = [m.get("text", "") for m in await customer.answer()]
    assert any("20417" in t for t in texts if t.startswith("I'm bringing in a person")), texts
    await _queued_case(agent, customer.session_id)

    await customer.say("/fd_cancel_handoff", title="Cancel my request")
    cancelled = await customer.answer()
    assert "cancelled" in cancelled[0]["text"]
    await agent.until(
        "queue", lambda q: all(i["conversation_id"] != customer.session_id for i in q["items"])
    )


async def test_two_failed_understandings_offer_a_person(
    widget_client_factory: Callable[..., WidgetClient],
) -> None:
    customer = widget_client_factory()
    await customer.connect()
    await customer.say("blorf snizzle wozzle")
    first = await customer.answer()
    assert response_of(first[0]["text"]) in {"utter_default", "utter_out_of_scope"}
    assert not any("pass you to a person" in m.get("text", "") for m in first)
    await customer.say("qwxz plimp zorbo")
    second = await customer.answer()
    offer = next(m for m in second if "pass you to a person" in m.get("text", ""))
    assert offer["quick_replies"][0]["payload"] == "/human_handoff"


async def test_an_agent_at_capacity_cannot_claim_one_more(
    widget_client_factory: Callable[..., WidgetClient],
    agent_factory: Callable[..., Any],
) -> None:
    agent = await agent_factory(_unique("kim"), "Kim", capacity=1)
    customers = [widget_client_factory(), widget_client_factory()]
    case_ids = []
    for customer in customers:
        await customer.connect()
        await customer.say("/human_handoff", title="Talk to a person")
        await customer.answer()
        case_ids.append((await _queued_case(agent, customer.session_id))["case_id"])
    assert (await agent.call("claim", {"case_id": case_ids[0]}))["ok"]
    refused = await agent.call("claim", {"case_id": case_ids[1]})
    assert refused["ok"] is False and refused["error"]["code"] == "at_capacity"
    # Claiming a case someone already holds is refused too.
    again = await agent.call("claim", {"case_id": case_ids[0]})
    assert again["ok"] is False


async def test_an_agent_transfers_a_conversation_with_its_history(
    widget_client_factory: Callable[..., WidgetClient],
    agent_factory: Callable[..., Any],
) -> None:
    first = await agent_factory(_unique("ana"), "Ana")
    second_name = _unique("ben")
    second = await agent_factory(second_name, "Ben")
    customer = widget_client_factory()
    await customer.connect()
    await customer.say("/human_handoff", title="Talk to a person")
    await customer.answer()
    case_id = (await _queued_case(first, customer.session_id))["case_id"]
    assert (await first.call("claim", {"case_id": case_id}))["ok"]
    moved = await first.call("transfer", {"case_id": case_id, "to": second_name})
    assert moved["ok"], moved
    assigned = await second.next("case_assigned")
    assert assigned["case"]["card"]["conversation_id"] == customer.session_id
    assert (await first.call("reply", {"case_id": case_id, "text": "still me?"}))["ok"] is False
    notice = await customer.until_message(lambda m: "passed the conversation to Ben" in m["text"])
    assert notice["sender"]["kind"] == "system"
    assert (await second.call("reply", {"case_id": case_id, "text": "Ben here."}))["ok"]
    reply = await customer.until_message(lambda m: m["sender"]["kind"] == "agent")
    assert reply["sender"]["name"] == "Ben"
