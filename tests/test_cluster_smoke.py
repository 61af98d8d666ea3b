"""`make cluster`'s launcher, end to end: nginx in front of 3 gateway processes
(SOCKETIO_REDIS=on), 2 Rasa on a shared tracker store, Redis primary + replica + 3 sentinels.
A customer through nginx gets the bot's answer; an agent on one gateway sees, live, a case a
customer queued on another; a Rasa that dies hands its conversations to the other; and when
the cluster stops, none of its processes is left."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import socketio

from frontdesk.botclient import BotClient
from frontdesk.cluster import Cluster, NginxLimits
from frontdesk.config import ROOT
from frontdesk.console.auth import load_secret, socket_token
from tests.conftest import flows_copy
from tests.support import AgentClient, WidgetClient

pytestmark = pytest.mark.rasa


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("cluster")
    flows = flows_copy(directory)  # open around the clock: a person can be asked for now
    cluster = Cluster(directory, gateway_env={"FLOWS_DIR": str(flows)}, nginx_limits=NginxLimits())
    cluster.start()
    try:
        yield cluster
    finally:
        pids = [pid for pid in cluster.pids().values() if pid]
        cluster.stop()  # raises if a process of the cluster is left
        assert cluster.leftovers() == []
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)


def add_agent(cluster: Cluster, name: str) -> str:
    """`server.py agents add` against the cluster's Redis (through the sentinels); the agent's
    console token, signed with the gateways' secret."""
    env = {
        **os.environ,
        "REDIS_URL": "",
        "DATA_DIR": str(cluster.directory / "data"),
        **cluster.redis_env(),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "agents", "add", name, "--password-stdin"],
        input="pw-12345678\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    secret = load_secret(cluster.secret_key, cluster.directory)
    return socket_token(secret, name)


async def test_a_customer_through_nginx_gets_the_bots_answer(
    cluster: Cluster, people: list[Any]
) -> None:
    customer = WidgetClient(cluster.url)  # WebSocket through nginx's upgrade
    people.append(customer)
    await customer.connect()
    assert (await customer.say("where is my order?"))["ok"]
    answer = await customer.answer()
    assert answer and all(m["sender"]["kind"] == "bot" for m in answer), answer


async def test_long_polling_through_nginx_starts_a_session(cluster: Cluster) -> None:
    """Before the upgrade socket.io-client long-polls: every request of one Engine.IO session
    must reach the same gateway process (nginx hashes the client's address)."""
    client = socketio.AsyncClient(reconnection=False)
    confirmed: asyncio.Queue[Any] = asyncio.Queue()
    client.on("session_confirm", confirmed.put)
    await client.connect(cluster.url, transports=["polling"])
    try:
        for _ in range(3):  # several round trips over polling, none lost to another process
            session_id = uuid.uuid4().hex
            await client.emit("session_request", {"session_id": session_id})
            assert await asyncio.wait_for(confirmed.get(), 30)  # a new id: we held no token
    finally:
        await client.disconnect()


async def test_an_agent_on_one_gateway_sees_a_case_queued_on_another(
    cluster: Cluster, people: list[Any]
) -> None:
    first, second = cluster.gateway_urls[:2]
    agent = AgentClient(second, add_agent(cluster, "smoke-ana"))
    people.append(agent)
    await agent.connect()
    customer = WidgetClient(first)
    people.append(customer)
    await customer.connect()
    await customer.say("/human_handoff", title="Talk to a person")
    queue = await agent.until(
        "queue", lambda q: any(i["conversation_id"] == customer.session_id for i in q["items"])
    )
    item = next(i for i in queue["items"] if i["conversation_id"] == customer.session_id)
    claimed = await agent.call("claim", {"case_id": item["case_id"]})
    assert claimed["ok"], claimed
    reply = await agent.call("reply", {"case_id": item["case_id"], "text": "Hi, Ana here."})
    assert reply["ok"], reply
    got = await customer.until_message(lambda m: m["sender"]["kind"] == "agent")
    assert got["text"] == "Hi, Ana here."


async def test_a_rasa_that_dies_hands_its_conversations_to_the_other(
    cluster: Cluster, people: list[Any]
) -> None:
    """Runs last: it leaves one Rasa dead (the cluster stops after it)."""
    customer = WidgetClient(cluster.url)
    people.append(customer)
    await customer.connect()
    assert (await customer.say("where is my order?"))["ok"]
    assert await customer.answer()
    # The Rasa this conversation goes to (the same choice every gateway makes) dies.
    async with aiohttp.ClientSession() as session:
        sticky = BotClient(session, cluster.rasa_urls, 10).url_for(customer.session_id)
    cluster.kill(cluster.rasa_names[cluster.rasa_urls.index(sticky)])
    assert (await customer.say("how do I return an item?"))["ok"]
    answer = await customer.answer()
    assert answer and all(m["sender"]["kind"] == "bot" for m in answer), answer
    # /healthz names the dead Rasa but stays 200: a balancer keeps every gateway in.
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{cluster.gateway_urls[0]}/healthz") as resp,
    ):
        body = await resp.json()
        assert resp.status == 200 and sticky in body["degraded"][0], body
