"""Customers who leave do not stay in line: real gateway, real Redis, real Socket.IO clients
that close their page (core/abandon.py; the rule's time is shortened in a copy of flows/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from frontdesk.app import make_app
from frontdesk.console.keys import DESK, REPORTS
from frontdesk.reports.store import Filters
from tests.conftest import flows_copy, free_port, make_settings
from tests.support import WidgetClient, customer
from tests.test_waits import agent, ask_for_person


@pytest.fixture
def start(redis_url: str, tmp_path: Path, aiohttp_server: Callable[..., Any]) -> Callable[..., Any]:
    async def run() -> TestServer:
        flows = flows_copy(tmp_path)
        waits = (
            (flows / "waits.yml")
            .read_text()
            .replace("min_interval_seconds: 15", "min_interval_seconds: 0")
            .replace("abandon_after_seconds: 180", "abandon_after_seconds: 2")
        )
        (flows / "waits.yml").write_text(waits)
        settings = make_settings(redis_url, f"http://127.0.0.1:{free_port()}", tmp_path)
        server: TestServer = await aiohttp_server(make_app(settings))
        return server

    return run


async def test_a_customer_who_closed_the_page_leaves_the_line_and_the_others_move_up(
    start: Callable[..., Any], people: list[Any]
) -> None:
    server = await start()
    kim = await agent(server, people, capacity=1)
    busy, gone, stays, back = [await customer(server, people) for _ in range(4)]
    for client in (busy, gone, stays, back):
        await ask_for_person(server, client)
    first = (await server.app[DESK].queue_items())[0]["case_id"]
    assert (await kim.call("claim", {"case_id": first}))["ok"]
    await stays.until("queue_status", lambda s: s.get("position") == 2)

    await gone.close()  # the page is closed for good
    await back.close()  # a reload: the same conversation comes back within the time
    again = WidgetClient(str(server.make_url("/")).rstrip("/"), back.session_id)
    people.append(again)
    await again.connect()

    # The one who left is taken out; the next customer moves up to first in line.
    moved = await stays.until("queue_status", lambda s: s.get("position") == 1, timeout=30)
    assert "next in line" in moved["text"]
    waiting = {item["conversation_id"] for item in await server.app[DESK].queue_items()}
    assert gone.session_id not in waiting
    assert {stays.session_id, back.session_id} <= waiting
    cases = await server.app[DESK].cases.cases_of(gone.session_id)
    assert [c["state"] for c in cases] == ["abandoned"]
    # Whoever comes back reads what happened, in the conversation's transcript.
    returned = WidgetClient(str(server.make_url("/")).rstrip("/"), gone.session_id)
    people.append(returned)
    history = await returned.connect()
    assert "taken you out of the line" in history["messages"][-1]["text"]
    # The reports count who left the line and how long they had waited.
    reports = server.app[REPORTS]
    figures = await reports.figures(reports.period("7d"), Filters(), team=True)
    waits = figures.table("waits")
    assert waits is not None
    total = dict(zip(waits.columns, waits.rows[-1], strict=True))
    assert total["Left the page while waiting"] == 1 and total["Gave up waiting"] == 1
    assert total["Abandonment %"] == 25.0  # 1 of the 4 requests
    assert total["Time to abandon, median (s)"] is not None
