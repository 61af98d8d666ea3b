"""Who is on a case, and what the customer is typing (issue 22), with real Socket.IO clients
against the real gateway, Redis and Rasa: two agents see each other viewing and typing; only
the agent who has a case acts on it, another takes it over explicitly (capacity applies, the
customer reads who took over); the customer's draft reaches the holder alone, never the bot or
the transcript, and not at all with flows/handoff.yml show_customer_draft off; user_typing has
its own budget per connection."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdesk.app import make_app
from frontdesk.console.auth import hash_password, socket_token
from frontdesk.console.keys import DESK, SECRET
from frontdesk.keys import STORE
from tests.conftest import make_settings
from tests.support import AgentClient, handed_over

pytestmark = pytest.mark.rasa

PRESENCE_EVENTS = ("case_viewers", "case_holder", "case_taken_over", "case_updated")


def watching(client: AgentClient) -> AgentClient:
    """An agent's console that also records the presence events."""
    for name in PRESENCE_EVENTS:
        client.sio.on(name, client._recorder(name), namespace="/agent")
    return client


Agents = Callable[..., Any]


async def _agents(server: TestServer) -> AsyncIterator[Agents]:
    clients: list[AgentClient] = []
    desk = server.app[DESK]

    async def make(display_name: str, capacity: int = 3) -> AgentClient:
        name = f"{display_name.lower()}{uuid.uuid4().hex[:6]}"
        fields = {
            "display_name": display_name,
            "password_hash": hash_password("secret-pass"),
            "capacity": str(capacity),
        }
        await desk.agents.save(name, fields)
        token = socket_token(server.app[SECRET], name)
        client = watching(AgentClient(str(server.make_url("/")).rstrip("/"), token))
        clients.append(client)
        await client.connect()
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def agents(gateway: TestServer) -> AsyncIterator[Agents]:
    async for make in _agents(gateway):
        yield make


def names(viewers: list[dict[str, Any]]) -> dict[str, bool]:
    """display name -> typing."""
    return {v["display_name"]: v["typing"] for v in viewers}


async def test_two_agents_see_each_other_on_a_case_and_only_a_take_over_lets_the_second_act(
    gateway: TestServer, agents: Agents
) -> None:
    maria = await agents("Maria")
    lena = await agents("Lena")
    customer, case_id = await handed_over(gateway, maria)
    try:
        seen = await maria.call("viewing", {"case_id": case_id})
        assert seen["ok"] and names(seen["viewers"]) == {"Maria": False}

        # Lena opens Maria's case: she reads it, sees who has it, and who else is on it.
        opened = await lena.call("open_case", {"case_id": case_id})
        assert opened["ok"], opened
        assert opened["case"]["holder"]["display_name"] == "Maria"
        seen = await lena.call("viewing", {"case_id": case_id})
        assert names(seen["viewers"]) == {"Maria": False, "Lena": False}
        update = await maria.until("case_viewers", lambda v: len(v["viewers"]) == 2)
        assert update["case_id"] == case_id and names(update["viewers"])["Lena"] is False

        # Maria types her reply: Lena sees it.
        assert (await maria.call("typing", {"case_id": case_id, "typing": True}))["ok"]
        typing = await lena.until("case_viewers", lambda v: names(v["viewers"]).get("Maria"))
        assert names(typing["viewers"]) == {"Maria": True, "Lena": False}
        assert (await maria.call("typing", {"case_id": case_id, "typing": False}))["ok"]
        await lena.until(
            "case_viewers", lambda v: names(v["viewers"]) == {"Maria": False, "Lena": False}
        )

        # Lena cannot reply, note or close on Maria's case; the customer gets nothing.
        refused = await lena.call("reply", {"case_id": case_id, "text": "Hello from Lena"})
        assert refused["error"]["code"] == "not_yours", refused
        assert "Maria has this conversation" in refused["error"]["message"]
        for action, extra in (("note", {"text": "x"}), ("close", {})):
            answer = await lena.call(action, {"case_id": case_id, **extra})
            assert answer["error"]["code"] == "not_yours", (action, answer)

        # Maria replies: Lena, on the case, sees it live.
        assert (await maria.call("reply", {"case_id": case_id, "text": "Checking now."}))["ok"]
        shown = await lena.until("case_message", lambda m: m["case_id"] == case_id)
        assert shown["entry"]["text"] == "Checking now."

        # Lena takes over: the customer reads who took over, Maria's console says so.
        taken = await lena.call("take_over", {"case_id": case_id})
        assert taken["ok"], taken
        assert taken["case"]["holder"]["display_name"] == "Lena"
        told = await customer.until_message(lambda m: "taken over" in m.get("text", ""))
        assert told["text"].startswith("Lena has taken over the conversation from Maria")
        gone = await maria.next("case_taken_over")
        assert gone == {"case_id": case_id, "by": {"name": lena.name, "display_name": "Lena"}}
        holder = await maria.until("case_holder", lambda h: h["holder"]["display_name"] == "Lena")
        assert holder["state"] == "agent"

        refused = await maria.call("reply", {"case_id": case_id, "text": "still me?"})
        assert refused["error"]["code"] == "not_yours"
        again = await lena.call("take_over", {"case_id": case_id})
        assert again["error"]["code"] == "already_yours"
        reply = await lena.call(
            "reply", {"case_id": case_id, "text": "Lena here, I'll finish this."}
        )
        assert reply["ok"], reply
        got = await customer.until_message(
            lambda m: m.get("sender", {}).get("kind") == "agent" and "Lena here" in m["text"]
        )
        assert got["sender"]["name"] == "Lena"

        # Lena leaves: Maria no longer sees her on the case.
        await lena.close()
        left = await maria.until("case_viewers", lambda v: "Lena" not in names(v["viewers"]))
        assert names(left["viewers"]) == {"Maria": False}
    finally:
        await customer.close()


async def test_a_take_over_respects_the_takers_capacity_and_a_waiting_case_is_claimed(
    gateway: TestServer, agents: Agents
) -> None:
    maria = await agents("Maria")
    kim = await agents("Kim", capacity=1)
    first, first_case = await handed_over(gateway, maria)
    second, second_case = await handed_over(gateway, kim)  # Kim's one slot is taken
    try:
        full = await kim.call("take_over", {"case_id": first_case})
        assert full["error"]["code"] == "at_capacity", full
        assert (await maria.call("reply", {"case_id": first_case, "text": "still mine"}))["ok"]
        assert (await kim.call("close", {"case_id": second_case}))["ok"]
        assert (await kim.call("take_over", {"case_id": first_case}))["ok"]
        await first.until_message(lambda m: "Kim has taken over" in m.get("text", ""))
    finally:
        await first.close()
        await second.close()


async def _tracker_text(rasa_url: str, conversation_id: str) -> str:
    async with aiohttp.ClientSession() as http:
        url = f"{rasa_url}/conversations/{conversation_id}/tracker"
        async with http.get(url) as resp:
            return json.dumps(await resp.json(), ensure_ascii=False)


async def test_the_customers_draft_reaches_the_holder_alone_and_is_never_kept(
    gateway: TestServer, agents: Agents, rasa_url: str
) -> None:
    maria = await agents("Maria")
    lena = await agents("Lena")
    customer, case_id = await handed_over(gateway, maria)
    try:
        assert (await lena.call("viewing", {"case_id": case_id}))["ok"]
        draft = "my order number is 10 (still typing) ✏️"
        ack = await customer.sio.call("user_typing", {"typing": True, "draft": draft}, timeout=10)
        assert ack == {"ok": True, "draft": True}
        typing = await maria.until("customer_typing", lambda t: "draft" in t)
        assert typing == {"case_id": case_id, "typing": True, "draft": draft}

        await customer.say("my order number is 1042")
        sent = await lena.until("case_message", lambda m: m["entry"]["role"] == "customer")
        assert sent["entry"]["text"] == "my order number is 1042"
        # Events to one console arrive in order: a draft sent to Lena would be here by now.
        assert lena.received["customer_typing"] == []

        history = await gateway.app[STORE].history(customer.session_id, 0, 1000)
        assert all("still typing" not in e.get("text", "") for e in history)
        assert "still typing" not in await _tracker_text(rasa_url, customer.session_id)

        # Too long, or not text: refused in the ack, nothing relayed.
        long = await customer.sio.call("user_typing", {"typing": True, "draft": "x" * 1001})
        assert long["error"]["code"] == "draft_too_long"
        bad = await customer.sio.call("user_typing", {"typing": True, "draft": 42})
        assert bad["error"]["code"] == "bad_request"
    finally:
        await customer.close()


async def test_typing_signals_have_their_own_budget_per_connection(
    gateway: TestServer, agents: Agents
) -> None:
    maria = await agents("Maria")
    customer, _ = await handed_over(gateway, maria)
    try:
        acks = await asyncio.gather(
            *(
                customer.sio.call("user_typing", {"typing": True, "draft": f"d{n}"}, timeout=20)
                for n in range(40)
            )
        )
        refused = [a for a in acks if not a["ok"]]
        assert 0 < len(refused) <= 30 and all(
            a["error"]["code"] == "rate_limited" and a["error"]["retry_after"] > 0 for a in refused
        )
        # Messages keep their own budget: the customer still talks to Maria.
        assert (await customer.say("are you there?"))["ok"]
        await maria.until("case_message", lambda m: m["entry"]["text"] == "are you there?")
    finally:
        await customer.close()


@pytest.fixture
async def drafts_off(
    redis_url: str, rasa_url: str, tmp_path: Path, aiohttp_server: Callable[..., Any]
) -> TestServer:
    """A gateway whose flows/handoff.yml says show_customer_draft: false."""
    settings = make_settings(redis_url, rasa_url, tmp_path)
    handoff = tmp_path / "flows" / "handoff.yml"
    text = handoff.read_text()
    assert "show_customer_draft: true" in text
    handoff.write_text(text.replace("show_customer_draft: true", "show_customer_draft: false"))
    app: web.Application = make_app(settings)
    server: TestServer = await aiohttp_server(app)
    return server


async def test_with_drafts_off_the_agent_sees_typing_but_no_text(drafts_off: TestServer) -> None:
    async for make in _agents(drafts_off):
        maria = await make("Maria")
        customer, case_id = await handed_over(drafts_off, maria)
        try:
            ack = await customer.sio.call("user_typing", {"typing": True, "draft": "secret plan"})
            assert ack == {"ok": True, "draft": False}
            assert await maria.next("customer_typing") == {"case_id": case_id, "typing": True}
        finally:
            await customer.close()
