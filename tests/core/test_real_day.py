"""A real day at the front desk, in the core: customers who leave the line, long waits that
offer a message, promises kept inside opening hours and naming the shop's time zone, and
topics where a person is offered instead of imposed."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from frontdesk.core.conversation import (
    LEAVE_MESSAGE,
    NO_PERSON,
    TOPIC_PERSON,
    CaseKind,
    CaseState,
    State,
)
from frontdesk.core.events import CaseCancelled, CaseQueued, MessageLeft
from frontdesk.core.hours import Hours
from frontdesk.core.messages import Inbound
from frontdesk.errors import DeskError
from tests.core.conftest import TEMPLATES, Desk, faq, make_desk, person, settle

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_9_18 = {day: ((dt.time(9), dt.time(18)),) for day in range(5)}


async def waiting(desk: Desk, conversation_id: str) -> str:
    await desk.open(conversation_id)
    desk.bot.script["a person please"] = person()
    await desk.say(conversation_id, "a person please")
    conversation = await desk.conversation(conversation_id)
    assert conversation.state is State.QUEUED
    return conversation.case_id


async def page(desk: Desk, conversation_id: str, online: bool) -> None:
    """The widget channel: a page of the conversation opened, or this process holds none."""
    if online:
        await desk.core.router.page_opened(conversation_id)
    else:
        await desk.core.router.page_closed(conversation_id)


async def test_a_customer_whose_page_is_gone_leaves_the_line_and_the_next_moves_up() -> None:
    desk = make_desk()
    await desk.agent_online("maria", capacity=1)
    await desk.core.desk.claim("maria", await waiting(desk, "busy"))  # her one slot is taken
    gone = await waiting(desk, "c1")
    await waiting(desk, "c2")
    assert [s.position for s in await desk.core.waits.statuses()] == [1, 2]

    await page(desk, "c1", online=False)
    desk.now[0] += 170  # not yet: the place is kept
    assert await desk.core.abandonment.sweep() == 0
    desk.now[0] += 20
    assert await desk.core.abandonment.sweep() == 1
    await settle(desk)

    case = await desk.cases.get(gone)
    assert case["state"] == CaseState.ABANDONED
    assert (await desk.conversation("c1")).state is State.BOT
    (cancelled,) = desk.events_of(CaseCancelled)
    assert cancelled.abandoned and cancelled.case_id == gone
    statuses = await desk.core.waits.statuses()
    assert [(s.conversation_id, s.position) for s in statuses] == [("c2", 1)]
    # Whoever comes back reads what happened to their request.
    assert desk.screen.texts("c1")[-1] == TEMPLATES.render("en", "abandoned_closed")


async def test_coming_back_in_time_keeps_the_place() -> None:
    desk = make_desk()
    await desk.agent_online("maria", capacity=1)
    await waiting(desk, "c1")
    await page(desk, "c1", online=False)
    desk.now[0] += 120
    await page(desk, "c1", online=True)  # a reload, a new tab
    desk.now[0] += 600
    assert await desk.core.abandonment.sweep() == 0
    assert (await desk.conversation("c1")).state is State.QUEUED


async def test_with_an_e_mail_on_file_the_request_becomes_a_left_message() -> None:
    desk = make_desk()
    await desk.agent_online("maria", capacity=1)
    await desk.open("c1")
    desk.bot.script["my order 1042 never came, ann@example.com"] = faq(
        "orders/order_status", 0.9
    )
    await desk.say("c1", "my order 1042 never came, ann@example.com")
    conversation = await desk.conversation("c1")
    captured = {**conversation.captured, "email": "ann@example.com"}
    await desk.store.update_conversation("c1", {"captured": json.dumps(captured)})
    desk.bot.script["a person please"] = person()
    await desk.say("c1", "a person please")
    await page(desk, "c1", online=False)
    desk.now[0] += 200
    assert await desk.core.abandonment.sweep() == 1

    conversation = await desk.conversation("c1")
    assert conversation.state is State.LEFT_MESSAGE
    message = await desk.cases.get(conversation.case_id)
    assert message["kind"] == "message" and message["email"] == "ann@example.com"
    assert message["promised_reply_by"] and message["left_while_waiting"]
    assert [c for c, _ in await desk.cases.messages()] == [conversation.case_id]
    assert await desk.cases.queue() == []
    assert len(desk.events_of(MessageLeft)) == 1
    assert "ann@example.com" in desk.screen.texts("c1")[-1]


async def test_a_telegram_customer_keeps_the_place_until_the_platform_limit() -> None:
    desk = make_desk()
    await desk.agent_online("maria", capacity=1)
    await desk.core.router.open_conversation("t1", "telegram", "en", {})
    desk.bot.script["a person please"] = person()
    await desk.core.router.accept(Inbound("t1", "telegram", "a person please"))
    await desk.core.router.idle()
    case_id = (await desk.conversation("t1")).case_id
    await desk.cases.update(case_id, {"requested_at": f"{desk.now[0]:.3f}"})
    desk.now[0] += 3 * 3600  # no page to close: hours later, still in line
    assert await desk.core.abandonment.sweep() == 0
    desk.now[0] += 22 * 3600
    assert await desk.core.abandonment.sweep() == 1
    assert (await desk.cases.get(case_id))["state"] == CaseState.ABANDONED


async def test_a_long_wait_offers_to_leave_a_message_beside_the_place() -> None:
    desk = make_desk()
    await desk.agent_online("maria", capacity=1)
    await desk.core.desk.claim("maria", await waiting(desk, "busy"))
    for n in range(6):  # six ahead with one agent: far more than 20 minutes
        await waiting(desk, f"ahead{n}")
    await settle(desk)
    status = desk.screen.events("ahead5", "queue_status")[-1]
    assert status["leave_message"] is True
    assert LEAVE_MESSAGE in [a["payload"] for a in status["actions"]]
    assert "leave a message" in status["text"]
    # The header a new customer reads says the same wait, not "within an hour".
    header = await desk.core.waits.typical_reply("en")
    assert header != TEMPLATES.render("en", "header_fallback")
    assert "hour" in header or "minutes" in header


async def test_a_short_wait_does_not_push_a_message_on_the_customer() -> None:
    desk = make_desk()
    await desk.agent_online("maria", capacity=2)
    await waiting(desk, "c1")
    await settle(desk)
    status = desk.screen.events("c1", "queue_status")[-1]
    assert status["leave_message"] is False


def test_a_message_left_before_closing_is_promised_inside_opening_hours() -> None:
    hours = Hours(zone=BERLIN, weekly=WEEKDAYS_9_18, zone_names={"en": "Berlin time"})
    monday_1720 = dt.datetime(2026, 12, 7, 17, 20, tzinfo=BERLIN)
    # 40 minutes today, the other 80 after reopening: not 19:20, when nobody is there.
    assert hours.reply_by(monday_1720) == dt.datetime(2026, 12, 8, 10, 20, tzinfo=BERLIN)
    friday_1700 = dt.datetime(2026, 12, 11, 17, 0, tzinfo=BERLIN)
    assert hours.reply_by(friday_1700) == dt.datetime(2026, 12, 14, 10, 0, tzinfo=BERLIN)
    assert hours.reply_by(dt.datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN)).hour == 12


async def test_promises_name_the_shops_time_zone_in_each_language() -> None:
    desk = make_desk()
    names = {"en": "Berlin time", "ru": "по берлинскому времени", "es": "hora de Berlín"}
    desk.core.waits.hours = Hours(zone=BERLIN, weekly=WEEKDAYS_9_18, zone_names=names)
    desk.now[0] = dt.datetime(2026, 12, 7, 17, 20, tzinfo=BERLIN).timestamp()
    for language, name in names.items():
        reply_by = desk.core.waits.reopening(language)["reply_by"]
        assert name in reply_by and "10:20" in reply_by


async def test_a_topic_where_a_person_helps_is_offered_not_imposed() -> None:
    desk = make_desk()
    await desk.agent_online("maria")
    await desk.open("c1", "es")
    desk.bot.script["me cobraron dos veces"] = faq("billing/unknown_charge", 0.9, "Lo siento.")
    replies = await desk.say("c1", "me cobraron dos veces")
    assert replies[-1] == TEMPLATES.render("es", "topic_offer", area="billing")
    assert (await desk.conversation("c1")).state is State.BOT
    assert not desk.events_of(CaseQueued)

    replies = await desk.say("c1", "No, gracias", NO_PERSON)
    assert replies == [TEMPLATES.render("es", "topic_offer_declined")]
    assert (await desk.conversation("c1")).state is State.BOT

    await desk.say("c1", "me cobraron dos veces")
    await desk.say("c1", "Sí, por favor", TOPIC_PERSON)
    assert (await desk.conversation("c1")).state is State.QUEUED
    (queued,) = desk.events_of(CaseQueued)
    assert queued.reason == "topic"


async def test_a_topic_marked_always_still_goes_to_a_person_at_once() -> None:
    desk = make_desk()
    await desk.agent_online("maria")
    await desk.open("c1")
    desk.bot.script["it arrived broken"] = faq("returns/damaged_item", 0.9, "So sorry!")
    await desk.say("c1", "it arrived broken")
    assert (await desk.conversation("c1")).state is State.QUEUED


async def test_a_page_on_another_process_keeps_the_place() -> None:
    """The customer closed the tab this process held, but another process still holds one:
    at every sweep that process says so, and the customer is never taken for gone."""
    desk = make_desk()
    await desk.agent_online("maria", capacity=1)
    await waiting(desk, "c1")
    await page(desk, "c1", online=False)  # this process's last page of c1 closed
    desk.core.abandonment.watch(lambda: ["c1"])  # ...but the other process holds one
    for _ in range(20):
        desk.now[0] += 15
        await desk.core.abandonment.still_here()
        assert await desk.core.abandonment.sweep() == 0
    assert (await desk.conversation("c1")).state is State.QUEUED


async def test_at_start_up_every_waiting_customer_must_be_seen_again() -> None:
    """A gateway that starts after a crash: the customers whose page died with the old process
    and never came back leave the line; those who reconnected keep their place."""
    desk = make_desk()
    await desk.agent_online("maria", capacity=1)
    await waiting(desk, "gone")
    await waiting(desk, "back")
    assert await desk.core.abandonment.everyone_away() == 2
    await page(desk, "back", online=True)
    desk.now[0] += 200
    assert await desk.core.abandonment.sweep() == 1
    assert (await desk.conversation("gone")).state is State.BOT
    assert (await desk.conversation("back")).state is State.QUEUED


async def test_a_claim_before_the_customer_is_in_line_is_undone_not_half_done() -> None:
    """The case enters the line a moment before its conversation is marked waiting (the
    customer gets the quote first). An agent who claims it in that moment is told to try again;
    the case keeps its place and the customer reads no "joined" line from someone who is not
    there (a chaos run saw the claim fail with the case gone from the line)."""
    desk = make_desk()
    await desk.agent_online("maria")
    conversation = await desk.open("c1")
    case = await desk.core.handoff.create_case(
        conversation, "customer_asked", "", "", CaseKind.LIVE, {}
    )
    with pytest.raises(DeskError) as refused:
        await desk.core.desk.claim("maria", case.id)
    assert refused.value.code == "not_ready"
    assert [c for c, _ in await desk.cases.queue()] == [case.id]
    assert await desk.cases.agent_cases("maria") == []
    assert not any("joined" in t for t in desk.screen.texts("c1"))
    await desk.core.conversations.queue(conversation, case)
    await desk.core.desk.claim("maria", case.id)
    assert (await desk.conversation("c1")).state is State.AGENT
