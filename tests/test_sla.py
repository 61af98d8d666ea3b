"""Service-level targets through the real gateway (real Redis, real Rasa): the queue and the
case card carry the time left against flows/sla.yml, a breach reaches the leads' consoles
once (not a plain agent's), and the reports' SLA section and its CSV count met and missed by
channel, area and agent."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from frontdesk.console.auth import hash_password, socket_token
from frontdesk.console.keys import DESK, SECRET
from frontdesk.keys import SLA_WATCH
from tests.support import AgentClient, WidgetClient

pytestmark = pytest.mark.rasa

PASSWORD = "secret-pass"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DAMAGED = "my order 1042 arrived but the box was crushed and the item is broken"


@pytest.fixture
async def agents(gateway: TestServer) -> AsyncIterator[Callable[..., Any]]:
    clients: list[AgentClient] = []

    async def make(name: str, role: str = "agent") -> AgentClient:
        fields = {
            "display_name": name.title(),
            "password_hash": hash_password(PASSWORD),
            "capacity": "3",
            "role": role,
        }
        await gateway.app[DESK].agents.save(name, fields)
        token = socket_token(gateway.app[SECRET], name)
        client = AgentClient(str(gateway.make_url("/")).rstrip("/"), token)
        client.sio.on("sla_breach", client._recorder("sla_breach"), namespace="/agent")
        clients.append(client)
        await client.connect()
        return client

    yield make
    for client in clients:
        await client.close()


async def queued(agent: AgentClient, conversation_id: str) -> dict[str, Any]:
    queue = await agent.until(
        "queue", lambda q: any(i["conversation_id"] == conversation_id for i in q["items"])
    )
    item: dict[str, Any] = next(
        i for i in queue["items"] if i["conversation_id"] == conversation_id
    )
    return item


async def report_csv(server: TestServer, name: str, report: str) -> dict[str, list[str]]:
    """The report's CSV as the signed-in `name` downloads it: rows keyed by group and value."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        url = server.make_url("/console/login")
        async with http.get(url) as resp:
            token = CSRF.search(await resp.text())
        assert token
        form = {"username": name, "password": PASSWORD, "csrf_token": token.group(1)}
        async with http.post(url, data=form, allow_redirects=False) as resp:
            assert resp.status == 302
        query = {"report": report, "period": "7d"}
        async with http.get(server.make_url("/console/reports.csv").with_query(query)) as resp:
            assert resp.status == 200, await resp.text()
            assert resp.headers["Content-Type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(await resp.text())))
    return {f"{r[0]}|{r[1]}": r[2:] for r in rows[1:]} | {"columns": rows[0]}


async def test_time_left_breach_alert_and_the_sla_report(
    widget_client_factory: Callable[..., WidgetClient],
    agents: Callable[..., Any],
    gateway: TestServer,
    redis_url: str,
) -> None:
    maria = await agents(f"maria{uuid.uuid4().hex[:6]}")
    lena = await agents(f"lena{uuid.uuid4().hex[:6]}", role="lead")

    # A damaged item goes to a person at once: returns, on the website (5 minutes to a first
    # response, 4 hours to resolve: flows/sla.yml; the test's hours are always open).
    late = widget_client_factory()
    await late.connect()
    await late.say(DAMAGED)
    await late.answer()
    item = await queued(maria, late.session_id)
    sla = item["sla"]
    first = sla["first_response"]
    assert first["state"] == "ok" and first["target_seconds"] == 300
    assert 0 < first["left_seconds"] <= 300
    assert first["due_at"] == pytest.approx(item["requested_at"] + 300, abs=0.01)
    assert sla["resolution"]["target_seconds"] == 4 * 3600
    assert sla["at_risk_below"] == 0.25

    # Its deadline passes (moved into the past, rather than waiting five minutes): the check
    # alerts the lead once, whichever process runs it; a plain agent is not alerted.
    client = aioredis.Redis.from_url(redis_url)
    due = time.time() - 60
    await client.hset(f"fd:case:{item['case_id']}", "sla_first_due", f"{due:.3f}")
    await client.aclose()
    watch = gateway.app[SLA_WATCH]
    assert await watch.check() == 1
    assert await watch.check() == 0
    alert = await lena.next("sla_breach")
    assert alert["case_id"] == item["case_id"] and alert["target"] == "first_response"
    assert alert["area"] == "returns" and alert["channel"] == "widget"
    assert alert["agent"] is None and alert["customer"].startswith("Visitor")
    opened = await lena.call("open_case", {"case_id": item["case_id"]})
    assert opened["case"]["card"]["sla"]["first_response"]["state"] == "breached"

    # Taken and answered late: missed; the resolution clock still runs.
    claimed = await maria.call("claim", {"case_id": item["case_id"]})
    assert claimed["ok"], claimed
    assert (await maria.call("reply", {"case_id": item["case_id"], "text": "Sorry!"}))["ok"]
    view = await maria.call("open_case", {"case_id": item["case_id"]})
    card = view["case"]["card"]
    assert card["sla"]["first_response"]["state"] == "missed"
    assert card["sla"]["resolution"]["state"] == "ok"

    # Another customer is answered in time and the case closed: both targets met.
    quick = widget_client_factory()
    await quick.connect()
    await quick.say("can I talk to a human?")
    await quick.answer()
    other = await queued(maria, quick.session_id)
    assert (await maria.call("claim", {"case_id": other["case_id"]}))["ok"]
    assert (await maria.call("reply", {"case_id": other["case_id"], "text": "Hi!"}))["ok"]
    assert (await maria.call("close", {"case_id": other["case_id"]}))["ok"]
    assert "sla_breach" not in maria.received

    rows = await report_csv(gateway, lena.name, "sla")
    assert rows["columns"][:5] == [
        "Group",
        "Value",
        "First response in time",
        "First response late",
        "First response met %",
    ]
    assert rows["All cases|"] == ["1", "1", "50.0", "1", "0", "100.0"]
    assert rows["Channel|widget"] == ["1", "1", "50.0", "1", "0", "100.0"]
    assert rows["Area|returns"][:3] == ["0", "1", "0.0"]
    assert rows["Agent|(none)"][:3] == ["0", "1", "0.0"]  # breached while still waiting
    assert rows[f"Agent|{maria.name}"] == ["1", "0", "100.0", "1", "0", "100.0"]
