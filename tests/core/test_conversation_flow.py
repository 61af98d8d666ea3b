"""The conversation model and the routing rules, through the core alone: what the customer
sees and what the agent's card says, for each state and transition."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import frontdesk
from frontdesk.core.conversation import (
    CANCEL_REQUEST,
    LEAVE_MESSAGE,
    REQUEST_PERSON,
    State,
    TransitionRefused,
)
from frontdesk.core.events import (
    BotAnswered,
    BotDeclined,
    CaseAssigned,
    CaseCancelled,
    CaseClosed,
    CaseQueued,
    CaseUpdated,
    ConversationOpened,
    MessageLeft,
)
from tests.core.conftest import CLOSED_AT, TEMPLATES, Desk, faq, make_desk, person, settle


async def test_transitions_check_the_current_state_and_write_nothing_otherwise(
    desk: Desk,
) -> None:
    conversation = await desk.open("c1")
    assert conversation.state is State.BOT
    with pytest.raises(TransitionRefused):
        await desk.core.conversations.cancel_request(conversation)  # not waiting
    with pytest.raises(TransitionRefused):
        await desk.core.conversations.close("c1", "case", "maria")  # nobody has it
    assert (await desk.conversation("c1")).state is State.BOT
    assert desk.published == [ConversationOpened("c1", "widget", "en")]  # and nothing else


async def test_unsure_answers_are_declined_and_two_fallbacks_offer_a_person(desk: Desk) -> None:
    await desk.open("c1")
    desk.bot.script["invoice please"] = faq("billing/invoice_copy", 0.2)
    (reply,) = await desk.say("c1", "invoice please")
    assert reply == TEMPLATES.render("en", "unsure_suggest")  # the guess is offered, not given
    assert (await desk.conversation("c1")).area == ""  # the guess is not kept as the topic
    replies = await desk.say("c1", "blah")  # the second answer in a row the bot could not give
    assert replies[-1] == TEMPLATES.render("en", "offer_person")
    assert (await desk.conversation("c1")).fallbacks_in_a_row == 0
    (reply,) = await desk.say("c1", "blah blah")
    assert reply == "Could you rephrase that?"  # counting starts again


async def test_a_topic_that_needs_a_person_is_queued_at_once_in_the_customers_language(
    desk: Desk,
) -> None:
    await desk.open("c1", "ru")
    await desk.agent_online("maria")
    desk.bot.script["товар пришёл разбитым"] = faq("returns/damaged_item", 0.9, "Жаль!")
    replies = await desk.say("c1", "товар пришёл разбитым")
    conversation = await desk.conversation("c1")
    assert conversation.state is State.QUEUED
    assert any(r.startswith("Подключаю сотрудника") for r in replies)
    (queued,) = desk.events_of(CaseQueued)
    assert queued.reason == "topic"


async def test_cancel_clears_the_queue_status_line(desk: Desk) -> None:
    """Bug: after "Cancel my request" the "You're 5th in line" line stayed on screen."""
    await desk.open("c1")
    await desk.agent_online("maria")
    desk.bot.script["a person please"] = person()
    await desk.say("c1", "a person please")
    assert (await desk.conversation("c1")).state is State.QUEUED
    assert desk.screen.events("c1", "queue_status")[-1]["text"]
    replies = await desk.say("c1", "Cancel request", CANCEL_REQUEST)
    await settle(desk)
    assert replies == [TEMPLATES.render("en", "handoff_cancelled")]
    assert desk.screen.events("c1", "queue_status")[-1] == {"text": None, "cleared": True}
    assert (await desk.conversation("c1")).state is State.BOT
    assert len(desk.events_of(CaseCancelled)) == 1
    assert await desk.cases.queue() == []


async def test_leaving_a_message_from_the_queue_clears_the_status_and_leaves_the_live_queue(
    desk: Desk,
) -> None:
    """Bugs: the status line stayed after leaving a message; left messages took places in the
    live queue and received live-queue pushes."""
    await desk.open("c1")
    await desk.open("c2")
    desk.bot.script["a person please"] = person()
    await desk.say("c1", "a person please")  # open, but nobody online
    status = desk.screen.events("c1", "queue_status")[-1]
    assert status["leave_message"] is True
    assert [a["payload"] for a in status["actions"]] == [LEAVE_MESSAGE, CANCEL_REQUEST]
    await desk.say("c1", "Leave a message", LEAVE_MESSAGE)
    assert desk.screen.events("c1", "queue_status")[-1] == {"text": None, "cleared": True}
    await desk.say("c1", "ana@example.com")
    await desk.say("c1", "Order 1042 came without laces")
    await settle(desk)
    assert (await desk.conversation("c1")).state is State.LEFT_MESSAGE
    assert len(desk.events_of(MessageLeft)) == 1
    assert await desk.cases.queue() == [] and len(await desk.cases.messages()) == 1
    pushes = len(desk.screen.events("c1", "queue_status"))

    await desk.say("c2", "a person please")
    await settle(desk)
    assert desk.screen.events("c2", "queue_status")[-1]["position"] == 1  # not 2nd
    await desk.core.waits.publish()
    assert len(desk.screen.events("c1", "queue_status")) == pushes  # no pushes for c1


async def test_a_message_left_while_open_promises_a_reply_time_not_a_reopening(
    desk: Desk,
) -> None:
    """Bug: open hours, nobody online: "We reopen today at 12:22 and will reply by 14:22"."""
    await desk.open("c1")
    desk.bot.script["a person please"] = person()
    await desk.say("c1", "a person please")
    await desk.say("c1", "Leave a message", LEAVE_MESSAGE)
    await desk.say("c1", "ana@example.com")
    (done,) = await desk.say("c1", "Where is my refund?")
    assert "reopen" not in done and "ana@example.com by 14:00" in done
    assert done == TEMPLATES.render(
        "en", "leave_message_done_open", email="ana@example.com", reply_by="14:00, UTC"
    )
    # Asking for a person again says where the message stands, and queues nothing.
    (again,) = await desk.say("c1", "a person please")
    assert "already with our team" in again and "14:00" in again
    assert await desk.cases.queue() == []


async def test_outside_hours_the_request_becomes_a_message_with_a_reopening() -> None:
    desk = make_desk(at=CLOSED_AT)
    await desk.open("c1", "es")
    desk.bot.script["quiero hablar con una persona"] = person()
    (intro,) = await desk.say("c1", "quiero hablar con una persona")
    assert (await desk.conversation("c1")).state is State.LEAVING_MESSAGE
    assert "mañana a las 9:00" in intro
    (bad,) = await desk.say("c1", "ana arroba example")
    assert bad.startswith(TEMPLATES.render("es", "leave_message_bad_email")[:20])
    await desk.say("c1", "ana@example.com")
    (done,) = await desk.say("c1", "¿Dónde está mi reembolso?")
    assert "ana@example.com" in done and "mañana" in done
    case = await desk.cases.get((await desk.cases.messages())[0][0])
    assert case["kind"] == "message" and case["message"] == "¿Dónde está mi reembolso?"


async def test_a_second_request_does_not_repeat_the_first_topic(desk: Desk) -> None:
    """Bug: "I've passed on: question about an order for order 3310" when the customer, after
    a closed conversation about order 3310, asked about an invoice."""
    await desk.open("c1")
    await desk.agent_online("maria")
    desk.bot.script["where is order 3310"] = replace(
        faq("orders/status"), entities=(("order_number", "3310"),)
    )
    desk.bot.script["a person please"] = person()
    desk.bot.script["I need my invoice"] = faq("billing/invoice_copy", 0.1)  # unsure
    await desk.say("c1", "where is order 3310")
    await desk.say("c1", "a person please")
    case_id = (await desk.conversation("c1")).case_id
    first = await desk.cases.get(case_id)
    assert "order 3310" in first["summary"]
    await desk.core.desk.claim("maria", case_id)
    await desk.core.desk.close("maria", case_id)
    await desk.say("c1", "5", "/fd_csat:5")
    await desk.say("c1", "5", "/fd_effort:5")
    await desk.say("c1", "no thanks", "/fd_survey_skip")
    assert (await desk.conversation("c1")).state is State.BOT

    await desk.say("c1", "I need my invoice")
    (confirm, *_) = await desk.say("c1", "a person please")
    assert "3310" not in confirm and "order" not in confirm
    assert "“I need my invoice”" in confirm
    second = await desk.cases.get((await desk.conversation("c1")).case_id)
    assert second["id"] != case_id and "3310" not in second["summary"]


async def test_the_customer_is_never_told_what_the_agent_is_told(desk: Desk) -> None:
    """Bug: the customer read "I've passed on: the customer asked for a person"."""
    await desk.open("c1")
    await desk.agent_online("maria")
    desk.bot.script["a person please"] = person()
    (confirm, *_) = await desk.say("c1", "a person please")
    assert confirm == TEMPLATES.render("en", "handoff_confirm_plain")
    case = await desk.cases.get((await desk.conversation("c1")).case_id)
    assert case["summary"] == "the customer asked for a person"  # the agent's wording


async def test_a_topic_raised_while_waiting_reaches_the_case_card(desk: Desk) -> None:
    """Bug: "charged twice", said while waiting, never reached the case card."""
    await desk.open("c1")
    await desk.agent_online("maria")
    desk.bot.script["where is order 3310"] = replace(
        faq("orders/status"), entities=(("order_number", "3310"),)
    )
    desk.bot.script["a person please"] = person()
    desk.bot.script["also I was charged twice"] = faq("billing/double_charge", 0.9)
    await desk.say("c1", "where is order 3310")
    await desk.say("c1", "a person please")
    case_id = (await desk.conversation("c1")).case_id
    await desk.say("c1", "also I was charged twice")
    (updated,) = desk.events_of(CaseUpdated)
    assert updated.case_id == case_id
    view = await desk.core.desk.case_view("maria", case_id)
    assert view["card"]["also_asked"] == ["also I was charged twice"]
    assert "charged twice" in view["card"]["summary"]
    assert "question about an order for order 3310;" in view["card"]["summary"]  # first kept


async def test_claim_close_and_survey_walk_the_states_once_each(desk: Desk) -> None:
    await desk.open("c1", "ru")
    await desk.agent_online("maria")
    desk.bot.script["позовите человека"] = person()
    await desk.say("c1", "позовите человека")
    case_id = (await desk.conversation("c1")).case_id
    view = await desk.core.desk.claim("maria", case_id)
    assert view["card"]["customer_label"] == f"Visitor {'c1'[-6:]}"
    conversation = await desk.conversation("c1")
    assert conversation.state is State.AGENT and conversation.agent == "maria"
    joined = [t for t in desk.screen.texts("c1") if "Maria" in t]
    assert joined == [TEMPLATES.render("ru", "agent_joined", name="Maria")]  # once
    assert desk.screen.events("c1", "queue_status")[-1] == {"text": None, "cleared": True}
    await desk.core.desk.close("maria", case_id)
    assert (await desk.conversation("c1")).state is State.SURVEY
    assert desk.screen.texts("c1")[-1] == TEMPLATES.render("ru", "survey_csat")
    await desk.say("c1", "4", "/fd_csat:4")
    await desk.say("c1", "2", "/fd_effort:2")
    (thanks,) = await desk.say("c1", "Всё отлично")
    assert thanks == TEMPLATES.render("ru", "survey_thanks")
    case = await desk.cases.get(case_id)
    assert (case["csat"], case["effort"], case["comment"]) == ("4", "2", "Всё отлично")
    assert [type(e) for e in desk.published if isinstance(e, CaseAssigned | CaseClosed)] == [
        CaseAssigned,
        CaseClosed,
    ]
    assert (await desk.conversation("c1")).state is State.BOT


def test_control_payloads_are_spelled_once() -> None:
    """The buttons' payloads are defined in core/records.py and nowhere else."""
    assert REQUEST_PERSON == "/human_handoff"
    package = Path(frontdesk.__file__).parent
    for path in package.rglob("*.py"):
        if path.name == "records.py":
            continue
        source = path.read_text(encoding="utf-8")
        for payload in ('"/fd_', '"/human_handoff"', 'meta.get("channel"'):
            assert payload not in source, f"{path} spells {payload}"


async def test_what_the_bot_did_with_each_message_is_published(desk: Desk) -> None:
    """For reports and the "could not answer" list: answered, not sure, not understood."""
    await desk.open("c1", "es")
    desk.bot.script["factura"] = faq("billing/invoice_copy", 0.9)
    desk.bot.script["devolver algo"] = faq("returns/how_to_return", 0.2)
    await desk.say("c1", "factura")
    await desk.say("c1", "devolver algo")
    await desk.say("c1", "xyz")
    (answered,) = desk.events_of(BotAnswered)
    assert (answered.answer_id, answered.language, answered.seq) == (
        "billing/invoice_copy",
        "es",
        1,
    )
    unsure, lost = desk.events_of(BotDeclined)
    assert (unsure.why, unsure.text, unsure.guess) == (
        "unsure",
        "devolver algo",
        "returns/how_to_return",
    )
    assert unsure.confidence == 0.2
    assert (lost.why, lost.text, lost.guess) == ("not_understood", "xyz", "nlu_fallback")
