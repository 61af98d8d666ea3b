"""Transparent waits and honest availability, against the real gateway and real Redis.

Rasa is not needed: the customer's request for a person goes straight to the handoff."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from frontdesk.app import ROUTER, make_app
from frontdesk.console.auth import hash_password, socket_token
from frontdesk.console.keys import DESK, SECRET
from frontdesk.mail.web import INBOX
from tests.conftest import ALWAYS_OPEN, flows_copy, free_port, make_settings
from tests.support import AgentClient, WidgetClient, customer


@pytest.fixture
def start(redis_url: str, tmp_path: Path, aiohttp_server: Callable[..., Any]) -> Callable[..., Any]:
    async def run(hours: str = ALWAYS_OPEN) -> TestServer:
        flows = flows_copy(tmp_path, hours)
        waits = (
            (flows / "waits.yml")
            .read_text()
            .replace("min_interval_seconds: 15", "min_interval_seconds: 0")
        )
        (flows / "waits.yml").write_text(waits)
        dead_rasa = f"http://127.0.0.1:{free_port()}"
        settings = make_settings(redis_url, dead_rasa, tmp_path, hours)
        server: TestServer = await aiohttp_server(make_app(settings))
        return server

    return run


async def agent(server: TestServer, people: list[Any], capacity: int) -> AgentClient:
    name = f"agent{uuid.uuid4().hex[:8]}"
    await server.app[DESK].agents.save(
        name,
        {
            "display_name": name,
            "password_hash": hash_password("pass-word"),
            "capacity": str(capacity),
        },
    )
    client = AgentClient(
        str(server.make_url("/")).rstrip("/"), socket_token(server.app[SECRET], name)
    )
    people.append(client)
    await client.connect()
    return client


async def ask_for_person(server: TestServer, client: WidgetClient) -> None:
    router = server.app[ROUTER]
    conversation = await router.conversations.get(client.session_id)
    await router.handoff.request(conversation, "customer_asked")


async def status(client: WidgetClient) -> dict[str, Any]:
    event: dict[str, Any] = await client.next("queue_status", timeout=10)
    return event


async def test_position_estimate_and_reason_follow_claims_and_closes(
    start: Callable[..., Any], people: list[Any]
) -> None:
    server = await start()
    kim = await agent(server, people, capacity=1)
    a, b, c = [await customer(server, people) for _ in range(3)]
    for client in (a, b, c):
        await ask_for_person(server, client)

    first_a, first_b, first_c = await status(a), await status(b), await status(c)
    assert [first_a["position"], first_b["position"], first_c["position"]] == [1, 2, 3]
    assert first_a["reason"] == "free" and "next in line" in first_a["text"]
    assert first_b["reason"] == "busy" and "2nd in line" in first_b["text"]
    assert "3rd in line" in first_c["text"]
    assert first_b["estimate"]["high_minutes"] <= first_c["estimate"]["high_minutes"]
    assert "1 agent is helping 0 customers" in first_b["text"]
    # The quote the customer saw is kept with the case, for measuring honesty later.
    case_a = (await server.app[DESK].queue_items())[0]["case_id"]
    quoted = await server.app[DESK].cases.get(case_a)
    assert float(quoted["quote_high"]) > 0 and quoted["quote_reason"] == "free"

    claimed = await kim.call("claim", {"case_id": case_a})
    assert claimed["ok"]
    assert (await a.next("queue_status"))["cleared"] is True
    # Pushes follow the change (an estimate refresh may come first; it is skipped here).
    moved_b = await b.until("queue_status", lambda s: s["position"] == 1)
    moved_c = await c.until("queue_status", lambda s: s["position"] == 2)
    assert moved_b["reason"] == "busy" and "1 agent is helping 1 customer" in moved_b["text"]
    assert "next in line" in moved_b["text"] and "2nd in line" in moved_c["text"]

    assert (await kim.call("close", {"case_id": case_a}))["ok"]
    freed = await b.until("queue_status", lambda s: s["reason"] == "free")
    assert freed["position"] == 1


async def test_with_nobody_online_the_customer_is_told_and_offered_a_message(
    start: Callable[..., Any], people: list[Any]
) -> None:
    server = await start()
    client = await customer(server, people)
    config = await client.next("widget_config")
    assert "offline" in config["status_text"] and "instantly" not in config["status_text"]
    await ask_for_person(server, client)
    event = await status(client)
    assert event["estimate"] is None and event["reason"] == "none_online"
    assert "No one from our team is online" in event["text"]
    queued = await client.until_message(lambda m: "in line" in m.get("text", ""))
    assert [q["payload"] for q in queued["quick_replies"]] == [
        "/fd_leave_message",
        "/fd_cancel_handoff",
    ]
    # Choosing to leave a message takes the customer out of the queue into the message flow.
    await client.say("/fd_leave_message", title="Leave a message")
    ask = await client.until_message(lambda m: "e-mail address" in m.get("text", ""))
    assert "online" in ask["text"]
    assert await server.app[DESK].queue_items() == [] or all(
        i["conversation_id"] != client.session_id for i in await server.app[DESK].queue_items()
    )


def closed_until_tomorrow() -> tuple[str, dt.datetime]:
    """Hours (UTC) that are closed right now and reopen tomorrow at 9:00."""
    now = dt.datetime.now(dt.UTC)
    tomorrow = (now + dt.timedelta(days=1)).date()
    hours = (
        "timezone: UTC\nweekly:\n"
        + "".join(
            f"  {d}: ['09:00-17:00']\n"
            for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
        + f"closures:\n  - {{start: {now.date()}T00:00, end: {tomorrow}T00:00}}\n"
        + "reply_within_hours: 2\n"
    )
    return hours, dt.datetime.combine(tomorrow, dt.time(9, 0), dt.UTC)


async def test_after_hours_a_request_becomes_a_message_with_a_stated_reply_time(
    start: Callable[..., Any], people: list[Any]
) -> None:
    hours, reopen = closed_until_tomorrow()
    server = await start(hours)
    client = await customer(server, people)
    assert (await client.next("widget_config"))["status_text"].startswith(
        "We're closed — we reopen tomorrow at 9:00"
    )
    await ask_for_person(server, client)
    intro = await client.until_message(lambda m: "closed" in m.get("text", ""))
    assert "we reopen tomorrow at 9:00 and will reply by 11:00" in intro["text"]
    assert "What e-mail address" in intro["text"]
    assert server.app[ROUTER].handoff.waits.hours.next_opening(dt.datetime.now(dt.UTC)) == reopen

    await client.say("ana at example dot com")
    refused = await client.until_message(lambda m: "doesn't look like an e-mail" in m["text"])
    assert "name@example.com" in refused["text"]
    await client.say("ana@example.com")
    await client.until_message(lambda m: "What would you like us to know" in m["text"])
    await client.say("Order 1042 came without the laces. Can you send them?")
    done = await client.until_message(lambda m: "your message is saved" in m["text"])
    assert "reply to ana@example.com by 11:00" in done["text"]

    inbox = await server.app[INBOX].items()
    mine = [i for i in inbox if i["conversation_id"] == client.session_id]
    assert len(mine) == 1
    case = await server.app[DESK].cases.get(mine[0]["case_id"])
    assert case["kind"] == "message" and case["email"] == "ana@example.com"
    assert case["message"] == "Order 1042 came without the laces. Can you send them?"
    assert case["promised_reply_by"] == "11:00, UTC"
    # A left message is not a place in the live queue (it is answered by e-mail), and the
    # conversation gets no live-queue pushes.
    assert mine[0]["kind"] == "message" and mine[0]["email"] == "ana@example.com"
    assert mine[0]["promised_reply_by"] == "11:00, UTC" and not mine[0]["overdue"]
    assert mine[0]["case_id"] not in dict(await server.app[DESK].cases.queue())
    assert await server.app[DESK].queue_items() == []  # the console's live queue
    assert await server.app[ROUTER].handoff.waits.statuses() == []


async def test_typical_reply_comes_from_real_first_response_times(
    start: Callable[..., Any], people: list[Any]
) -> None:
    server = await start()
    await agent(server, people, capacity=2)  # someone is online
    waits = server.app[ROUTER].handoff.waits
    cases = server.app[DESK].cases
    assert await waits.typical_reply("en") == (
        "A person typically replies within an hour during opening hours"
    )  # too little data yet: the configured text
    now = time.time()
    for first_response in (40, 70, 95, 130, 170, 200, 260):  # seconds
        case_id = uuid.uuid4().hex
        await cases.create(case_id, {"id": case_id, "requested_at": f"{now - 900}"}, "history")
        await cases.dequeue(case_id)
        await cases.update(
            case_id,
            {"first_reply_at": f"{now - 900 + first_response}", "joined_at": f"{now - 890}"},
        )
        await cases.release(case_id, "nobody", {"closed_at": f"{now - 100}"})
    waits._samples = (0.0, [], [])  # drop the 30 s cache
    waits._headers.clear()  # and the header computed a moment ago
    text = await waits.typical_reply("en")
    # The 80th percentile of the recent first responses (200 s), rounded up: never rosier.
    assert text == "A person typically replies in about 4 minutes"


async def test_auto_assignment_gives_the_request_to_the_least_loaded_agent(
    start: Callable[..., Any], people: list[Any], tmp_path: Path
) -> None:
    handoff_file = flows_copy(tmp_path) / "handoff.yml"
    handoff_file.write_text(
        handoff_file.read_text().replace("auto_assign: false", "auto_assign: true")
    )
    server = await start()
    one, two = await agent(server, people, capacity=2), await agent(server, people, capacity=2)
    first = await customer(server, people)
    await ask_for_person(server, first)
    waiting = {asyncio.create_task(a.next("case_assigned")): a for a in (one, two)}
    done, pending = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    holder = waiting[done.pop()]
    other = two if holder is one else one
    assert (await first.next("agent_joined"))["name"] == holder.name

    # The next request goes to the agent with fewer conversations.
    second = await customer(server, people)
    await ask_for_person(server, second)
    event = await other.next("case_assigned")
    assert event["case"]["card"]["conversation_id"] == second.session_id
    assert (await second.next("agent_joined"))["name"] == other.name


async def test_a_customer_who_reloads_while_waiting_keeps_the_place_in_line(
    start: Callable[..., Any], people: list[Any]
) -> None:
    """Bug: after a reload the queue status was gone, and the "Leave a message" button went
    away as soon as the customer typed anything else."""
    server = await start()
    client = await customer(server, people)
    await ask_for_person(server, client)  # open, but nobody online
    first = await client.until("queue_status", lambda s: s.get("text"))
    assert first["leave_message"] is True
    await client.close()

    again = WidgetClient(client.base_url, client.session_id)
    people.append(again)
    await again.connect()
    status = await again.next("queue_status")
    assert status["text"] == first["text"] and status["position"] == 1
    titles = [a["title"] for a in status["actions"]]
    assert titles == ["Leave a message", "Cancel my request"]
    # The status (with its actions) lives outside the transcript: a button press from it works.
    payload = next(a["payload"] for a in status["actions"] if a["title"] == "Leave a message")
    await again.say(payload, title="Leave a message")
    await again.until("queue_status", lambda s: s.get("cleared"))
    await again.until_message(lambda m: "What e-mail address" in m.get("text", ""))
