"""Scale-out: two gateway processes share Redis (SOCKETIO_REDIS=on, python-socketio's
AsyncRedisManager). A customer on one gateway and an agent on the other talk normally."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from frontdesk.app import make_app
from frontdesk.console.auth import hash_password, socket_token
from frontdesk.console.keys import DESK, SECRET
from tests.conftest import make_settings
from tests.support import AgentClient, WidgetClient

pytestmark = pytest.mark.rasa


def _url(server: TestServer) -> str:
    return str(server.make_url("/")).rstrip("/")


async def test_customer_on_one_gateway_and_agent_on_the_other_talk_normally(
    redis_url: str, rasa_url: str, tmp_path: Path, aiohttp_server: Callable[..., Any]
) -> None:
    # Two gateways, as two processes would run them: same Redis, same secret (same DATA_DIR),
    # each with its own Socket.IO server and its own Redis manager.
    settings = make_settings(redis_url, rasa_url, tmp_path, SOCKETIO_REDIS="off")
    first: TestServer = await aiohttp_server(make_app(settings))
    second: TestServer = await aiohttp_server(make_app(settings))

    name = f"ana{uuid.uuid4().hex[:8]}"
    fields = {"display_name": "Ana", "password_hash": hash_password("pw"), "capacity": "3"}
    await second.app[DESK].agents.save(name, fields)
    agent = AgentClient(_url(second), socket_token(second.app[SECRET], name))
    customer = WidgetClient(_url(first))
    try:
        await agent.connect()
        await customer.connect()

        # The customer asks for a person on the first gateway; the queue update reaches the
        # agent on the second one.
        await customer.say("/human_handoff", title="Talk to a person")
        await customer.answer()
        queue = await agent.until(
            "queue",
            lambda q: any(i["conversation_id"] == customer.session_id for i in q["items"]),
        )
        item = next(i for i in queue["items"] if i["conversation_id"] == customer.session_id)

        # The claim happens on the second gateway; the customer on the first is told.
        claimed = await agent.call("claim", {"case_id": item["case_id"]})
        assert claimed["ok"], claimed
        assert await customer.next("agent_joined") == {"name": "Ana"}

        # Customer -> agent across the pair.
        await customer.say("hello, my parcel is late")
        message = await agent.until("case_message", lambda m: m["entry"]["role"] == "customer")
        assert message["case_id"] == item["case_id"]
        assert message["entry"]["text"] == "hello, my parcel is late"

        # Agent -> customer across the pair, in Rasa's bot_uttered shape, marked as the agent's.
        reply = await agent.call("reply", {"case_id": item["case_id"], "text": "Looking now."})
        assert reply["ok"], reply
        received = await customer.until_message(lambda m: m["sender"]["kind"] == "agent")
        assert received["text"] == "Looking now." and received["sender"]["name"] == "Ana"
        assert received["seq"] == reply["seq"]

        # A second tab of the same customer on the *second* gateway sees the conversation too.
        tab = WidgetClient(_url(second), customer.session_id)
        try:
            history = await tab.connect()
            texts = [m.get("text") for m in history["messages"]]
            assert "hello, my parcel is late" in texts and "Looking now." in texts
            await agent.call("reply", {"case_id": item["case_id"], "text": "Found it."})
            for client in (customer, tab):
                got = await client.until_message(lambda m: m.get("text") == "Found it.")
                assert got["sender"]["kind"] == "agent"
        finally:
            await tab.close()
    finally:
        await customer.close()
        await agent.close()
