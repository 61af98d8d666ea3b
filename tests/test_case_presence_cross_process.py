"""Who is on a case across gateway processes (issue 22): two `server.py gateway` processes
share Redis (SOCKETIO_REDIS=on); an agent on each sees the other on the same case and who types,
and the one on the other process takes it over (tests/test_cross_process.py's Deployment)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import AgentClient
from tests.test_case_presence import PRESENCE_EVENTS, names
from tests.test_cross_process import Deployment, ask_for_a_person, deployment

__all__ = ["deployment"]

pytestmark = pytest.mark.rasa


def watching(client: AgentClient) -> AgentClient:
    for name in PRESENCE_EVENTS:
        client.sio.on(name, client._recorder(name), namespace="/agent")
    return client


async def test_agents_on_two_processes_see_each_other_on_a_case(deployment: Deployment) -> None:
    a, b = await deployment.start(2)
    maria = watching(await deployment.agent(a))
    lena = watching(await deployment.agent(b))
    customer = await deployment.customer(a)
    await ask_for_a_person(customer)
    queue = await maria.until(
        "queue", lambda q: any(i["conversation_id"] == customer.session_id for i in q["items"])
    )
    item = next(i for i in queue["items"] if i["conversation_id"] == customer.session_id)
    case_id = item["case_id"]
    assert (await maria.call("claim", {"case_id": case_id}))["ok"]

    assert (await maria.call("viewing", {"case_id": case_id}))["ok"]
    seen: dict[str, Any] = await lena.call("viewing", {"case_id": case_id})
    assert set(names(seen["viewers"])) == {maria.name, lena.name}
    both = await maria.until("case_viewers", lambda v: len(v["viewers"]) == 2)
    assert {v["name"] for v in both["viewers"]} == {maria.name, lena.name}

    assert (await maria.call("typing", {"case_id": case_id, "typing": True}))["ok"]
    typing = await lena.until(
        "case_viewers", lambda v: any(x["typing"] and x["name"] == maria.name for x in v["viewers"])
    )
    assert typing["case_id"] == case_id

    taken = await lena.call("take_over", {"case_id": case_id})
    assert taken["ok"], taken
    gone = await maria.next("case_taken_over")
    assert gone["case_id"] == case_id and gone["by"]["name"] == lena.name
    await customer.until_message(lambda m: "has taken over the conversation" in m.get("text", ""))
