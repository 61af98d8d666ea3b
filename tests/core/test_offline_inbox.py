"""The offline inbox through the core alone: a left message is its own list, taking it joins no
chat, the answer goes to the mail outbox and the transcript, closing sends no survey, and the
one-click satisfaction link counts once."""

from __future__ import annotations

import re

import pytest

from frontdesk.core.conversation import LEAVE_MESSAGE, State
from frontdesk.core.events import CaseAssigned, CaseClosed, MailStatusChanged, SurveyAnswered
from frontdesk.errors import DeskError
from tests.core.conftest import TEMPLATES, Desk, make_desk, person
from tests.memory import MemoryMail

MESSAGE = "Order 1042 came without the laces.\nCan you send them?"


async def leave_a_message(
    desk: Desk, language: str = "en", ask: str = "a person please", message: str = MESSAGE
) -> str:
    conversation_id = "c1"
    await desk.open(conversation_id, language)
    desk.bot.script[ask] = person()
    await desk.say(conversation_id, ask)  # open, but nobody online
    await desk.say(conversation_id, "Leave a message", LEAVE_MESSAGE)
    await desk.say(conversation_id, "ana@example.com")
    await desk.say(conversation_id, message)
    assert (await desk.conversation(conversation_id)).state is State.LEFT_MESSAGE
    ((case_id, _),) = await desk.cases.messages()
    return case_id


async def test_a_left_message_is_answered_by_email_without_a_chat_or_a_survey() -> None:
    mail = MemoryMail()
    desk = make_desk(mail=mail)
    case_id = await leave_a_message(desk)
    await desk.agent_online("maria")

    # Its own list, with the promise; never in the live queue.
    (item,) = await desk.core.inbox.items()
    assert (item["case_id"], item["email"], item["kind"]) == (case_id, "ana@example.com", "message")
    assert item["promised_reply_by"] == "14:00, UTC" and item["overdue"] is False
    assert await desk.core.desk.queue_items() == []

    before = list(desk.screen.sent)
    view = await desk.core.desk.claim("maria", case_id)
    assert view["card"]["left_message"]["message"] == MESSAGE
    assert view["card"]["left_message"]["email"] == "ana@example.com"
    # Nobody "joined" a chat the customer is not in; the bot still has the conversation.
    assert desk.screen.sent == before
    assert (await desk.conversation("c1")).state is State.LEFT_MESSAGE
    (assigned,) = desk.events_of(CaseAssigned)
    assert assigned.waiting is False
    assert await desk.core.inbox.items() == []  # taken: it left the inbox

    with pytest.raises(DeskError) as refused:
        await desk.core.desk.reply("maria", case_id, "hi")
    assert refused.value.code == "answer_by_email"

    answer = "We're sending the laces today.\n\nSorry about that!"
    sent_before = len(desk.screen.sent)
    result = await desk.core.inbox.answer("maria", case_id, answer)
    assert result["mail"]["state"] == "queued" and result["mail"]["to"] == "ana@example.com"

    queued = await mail.get(case_id)
    assert queued["to"] == "ana@example.com"
    assert queued["subject"] == TEMPLATES.render("en", "mail_subject")
    assert "> Order 1042 came without the laces.\n> Can you send them?" in queued["text"]
    assert queued["text"].startswith(answer)
    assert "https://help.shop.example/feedback/" in queued["text"]
    assert "&gt;" not in queued["text"] and "Sorry about that!" in queued["html"]
    # Stored in the transcript (the widget shows it), and nothing else reached the customer:
    # no closing line, no survey.
    (delivered,) = desk.screen.sent[sent_before:]
    assert delivered[1] == "message" and delivered[2]["text"] == answer
    (entry,) = [e for e in await desk.store.history("c1") if e["role"] == "agent"]
    assert entry["text"] == answer and entry["sender_name"] == "Maria"

    conversation = await desk.conversation("c1")
    assert conversation.state is State.BOT and conversation.case_id == ""
    case = await desk.cases.get(case_id)
    assert case["state"] == "closed" and case["mail_state"] == "queued"
    assert "first_reply_at" not in case  # hours-long e-mail answers do not skew live figures
    assert [type(e) for e in desk.published if isinstance(e, CaseClosed | MailStatusChanged)] == [
        CaseClosed,
        MailStatusChanged,
    ]
    # Until the SMTP server takes it, the answer stays in the inbox list.
    (pending,) = await desk.core.inbox.items()
    assert pending["case_id"] == case_id and pending["mail"]["state"] == "queued"

    # The sender reports a failed try, then a delivery.
    await desk.core.inbox.mail_failed(case_id, "Connection refused", 1, desk.now[0] + 30)
    (pending,) = await desk.core.inbox.items()
    assert pending["mail"]["state"] == "retrying" and pending["mail"]["attempts"] == 1
    await mail.delivered(case_id)
    await desk.core.inbox.mail_sent(case_id, 2)
    assert await desk.core.inbox.items() == []
    assert (await desk.cases.get(case_id))["mail_state"] == "sent"


async def test_closing_a_left_message_without_a_reply_sends_nothing_to_the_chat() -> None:
    desk = make_desk(mail=MemoryMail())
    case_id = await leave_a_message(desk, "es", "quiero hablar con una persona", "¿Y mi pedido?")
    await desk.agent_online("maria")
    await desk.core.desk.claim("maria", case_id)
    before = list(desk.screen.sent)
    await desk.core.desk.close("maria", case_id)
    assert desk.screen.sent == before  # no closing line, no agent_left, no survey
    assert (await desk.conversation("c1")).state is State.BOT
    case = await desk.cases.get(case_id)
    assert case["state"] == "closed" and case["closed_without_reply"] == "1"
    assert await desk.cases.agent_cases("maria") == []


async def test_the_satisfaction_link_counts_once() -> None:
    mail = MemoryMail()
    desk = make_desk(mail=mail)
    case_id = await leave_a_message(desk, "ru", "позовите человека", "Где мои шнурки?")
    await desk.agent_online("maria")
    await desk.core.desk.claim("maria", case_id)
    await desk.core.inbox.answer("maria", case_id, "Отправим шнурки сегодня.")
    text = (await mail.get(case_id))["text"]
    assert TEMPLATES.render("ru", "mail_rate_question") in text
    assert "> Где мои шнурки?" in text and "вы написали:" in text
    links = re.findall(r"https://help\.shop\.example/feedback/(\S+)\?score=(\d)", text)
    assert [score for _, score in links] == ["1", "2", "3", "4", "5"]
    token = links[0][0]
    assert {t for t, _ in links} == {token}  # one token: the first click counts

    inbox = desk.core.inbox
    assert (await inbox.feedback(token, None)).status == "ask"  # no score: asks, keeps it
    page = await inbox.feedback(token, 4)
    assert (page.status, page.language, page.score) == ("thanks", "ru", 4)
    case = await desk.cases.get(case_id)
    assert (case["csat"], case["csat_via"]) == ("4", "email")
    assert (await inbox.feedback(token, 1)).status == "used"
    assert (await desk.cases.get(case_id))["csat"] == "4"
    (answered,) = desk.events_of(SurveyAnswered)
    assert (answered.case_id, answered.step, answered.score) == (case_id, "csat", "4")

    nonce = token.split(".")[0]
    assert (await inbox.feedback(f"{nonce}.forged", 5)).status == "invalid"
    assert (await inbox.feedback("nonsense", 5)).status == "invalid"


async def test_without_smtp_an_answer_is_refused_before_anything_is_sent() -> None:
    desk = make_desk()
    case_id = await leave_a_message(desk)
    await desk.agent_online("maria")
    await desk.core.desk.claim("maria", case_id)
    with pytest.raises(DeskError) as refused:
        await desk.core.inbox.answer("maria", case_id, "Hello")
    assert refused.value.code == "mail_not_configured"
    assert (await desk.cases.get(case_id))["state"] == "agent"
    assert desk.core.inbox.enabled is False
