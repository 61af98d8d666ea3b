"""Left messages answered by e-mail, against the real gateway, real Redis and a real local SMTP
server (aiosmtpd): the reply arrives with the right headers and the customer's message quoted,
is kept in the conversation, and carries a satisfaction link that works once; a refused or
closed SMTP server means retries and a visible failure, then delivery when it is back.

Rasa is not needed: the customer's request for a person goes straight to the handoff."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from frontdesk.app import ROUTER, make_app
from frontdesk.channels.widget import WidgetChannel
from frontdesk.console.auth import hash_password, socket_token
from frontdesk.console.keys import DESK, SECRET
from frontdesk.core.conversation import State
from frontdesk.errors import ConfigError
from frontdesk.mail.settings import mail_settings, parse_smtp_url
from tests.conftest import free_port, make_settings
from tests.inbox_support import InboxAgent, leave_message, smtp_server, text_part
from tests.support import WidgetClient, customer

MAIL = {"MAIL_FROM": "Shoe Shop <help@shoes.example>", "MAIL_REPLY_TO": "team@shoes.example"}
LEFT = "Order 1042 came without the laces.\nCan you send them?"
ANSWER = "Hello Ana,\n\nthe laces are on their way today; you'll have them by Thursday."


@pytest.fixture
def start(redis_url: str, tmp_path: Path, aiohttp_server: Callable[..., Any]) -> Callable[..., Any]:
    async def run(**env: str) -> TestServer:
        dead_rasa = f"http://127.0.0.1:{free_port()}"
        settings = make_settings(redis_url, dead_rasa, tmp_path, **env)
        server: TestServer = await aiohttp_server(make_app(settings))
        return server

    return run


async def agent(server: TestServer, people: list[Any], display_name: str = "Maria") -> InboxAgent:
    name = f"agent{uuid.uuid4().hex[:8]}"
    fields = {"display_name": display_name, "password_hash": hash_password("pass-word")}
    await server.app[DESK].agents.save(name, fields)
    token = socket_token(server.app[SECRET], name)
    client = InboxAgent(str(server.make_url("/")).rstrip("/"), token)
    people.append(client)
    await client.connect()
    return client


async def test_an_answer_goes_out_by_email_and_its_satisfaction_link_works_once(
    start: Callable[..., Any], people: list[Any]
) -> None:
    port = free_port()
    controller, smtp = smtp_server(port)
    try:
        server = await start(SMTP_URL=f"smtp://127.0.0.1:{port}", **MAIL)
        client = await customer(server, people)
        item = await leave_message(server, client, "ana@example.com", LEFT)
        case_id = item["case_id"]
        maria = await agent(server, people)

        # The console lists it among the messages, never in the live queue.
        listed = await maria.next("messages")
        assert listed["mail_enabled"] is True
        (mine,) = [i for i in listed["items"] if i["case_id"] == case_id]
        assert mine["email"] == "ana@example.com" and mine["message"] == LEFT
        assert mine["promised_reply_by"] and mine["overdue"] is False
        assert all(i["case_id"] != case_id for i in (await maria.next("queue"))["items"])

        taken = await maria.call("claim", {"case_id": case_id})
        assert taken["ok"], taken
        assert taken["case"]["card"]["left_message"]["email"] == "ana@example.com"
        assert taken["case"]["customer_online"] is True  # the customer's page is open
        conversation = await server.app[ROUTER].conversations.get(client.session_id)
        assert conversation.state is State.LEFT_MESSAGE  # nobody joined a chat

        answered = await maria.call("answer_message", {"case_id": case_id, "text": ANSWER})
        assert answered["ok"], answered
        assert answered["mail"]["state"] == "queued"
        sent = await maria.until("mail_status", lambda s: s["state"] == "sent", timeout=20)
        assert sent["case_id"] == case_id and sent["attempts"] == 1

        (mail,) = smtp.received
        message = mail.message
        assert mail.mail_from == "help@shoes.example" and mail.rcpt_tos == ["ana@example.com"]
        assert message["From"] == "Shoe Shop <help@shoes.example>"
        assert message["To"] == "ana@example.com"
        assert message["Reply-To"] == "team@shoes.example"
        assert message["Subject"] == "Re: your message to our team"
        assert message["Message-ID"] == f"<{case_id}.answer@shoes.example>"
        body = text_part(message)
        assert body.startswith(ANSWER)
        assert "> Order 1042 came without the laces.\n> Can you send them?" in body
        html = message.get_body(preferencelist=("html",))
        assert html is not None and "Order 1042 came without the laces." in html.get_content()

        # The customer sees the answer in the chat too, and nothing else: no "joined", no
        # closing line, no survey.
        shown = await client.until_message(lambda m: m["sender"]["kind"] == "agent")
        assert shown["text"] == ANSWER and shown["sender"]["name"] == "Maria"
        assert client.received["agent_joined"] == [] and client.received["agent_left"] == []
        later = [m["text"] for m in client.received["bot_uttered"] if m["seq"] > shown["seq"]]
        assert later == []
        again = WidgetClient(client.base_url, client.session_id)
        people.append(again)
        history = await again.connect()
        kept = [m for m in history["messages"] if m["role"] == "agent"]
        assert [m["text"] for m in kept] == [ANSWER]
        assert not any("joined" in m.get("text", "") for m in history["messages"])
        conversation = await server.app[ROUTER].conversations.get(client.session_id)
        assert conversation.state is State.BOT

        case = await server.app[DESK].cases.get(case_id)
        assert case["state"] == "closed" and case["mail_state"] == "sent"
        inbox_now = await maria.until("messages", lambda m: True)
        assert all(i["case_id"] != case_id for i in inbox_now["items"])

        # The one-click satisfaction link: counts once, in the customer's language.
        links = re.findall(r"https?://\S+/feedback/(\S+)\?score=(\d)", body)
        assert [score for _, score in links] == ["1", "2", "3", "4", "5"]
        token = links[4][0]
        async with aiohttp.ClientSession() as http:
            url = server.make_url(f"/feedback/{token}")
            async with http.get(url, params={"score": "5"}) as resp:
                page = await resp.text()
                assert resp.status == 200 and "rating: 5 out of 5" in page
                assert resp.headers["Referrer-Policy"] == "no-referrer"
            async with http.get(url, params={"score": "1"}) as resp:
                assert resp.status == 410 and "already have your rating" in await resp.text()
            forged = server.make_url(f"/feedback/{token.split('.')[0]}.AAAA")
            async with http.get(forged, params={"score": "1"}) as resp:
                assert resp.status == 404
        case = await server.app[DESK].cases.get(case_id)
        assert (case["csat"], case["csat_via"]) == ("5", "email")
    finally:
        controller.stop()


async def test_a_closed_smtp_port_is_retried_visibly_until_the_server_is_back(
    start: Callable[..., Any], people: list[Any]
) -> None:
    port = free_port()  # nothing listens there yet
    server = await start(
        SMTP_URL=f"smtp://127.0.0.1:{port}?starttls=0&timeout=3",
        MAIL_RETRY_FIRST="0.2",
        MAIL_RETRY_MAX="0.5",
        **MAIL,
    )
    client = await customer(server, people)
    item = await leave_message(server, client, "bo@example.com", "Where is my refund?")
    case_id = item["case_id"]
    maria = await agent(server, people)
    assert (await maria.call("claim", {"case_id": case_id}))["ok"]
    assert (await maria.call("answer_message", {"case_id": case_id, "text": "Refunded."}))["ok"]

    failed = await maria.until("mail_status", lambda s: s["state"] == "retrying", timeout=20)
    assert failed["case_id"] == case_id and failed["error"] and failed["next_attempt_at"]
    case = await server.app[DESK].cases.get(case_id)
    assert case["mail_state"] == "retrying" and case["mail_error"]

    # Every agent sees the undelivered answer in the inbox, with why.
    def retrying(listed: dict[str, Any]) -> bool:
        mine = [i for i in listed["items"] if i["case_id"] == case_id and i["mail"]]
        return bool(mine) and mine[0]["mail"]["state"] == "retrying"

    listed = await maria.until("messages", retrying)
    (shown,) = [i for i in listed["items"] if i["case_id"] == case_id]
    assert shown["mail"]["to"] == "bo@example.com" and shown["mail"]["error"]
    # It is tried again (with back-off) without anyone asking.
    await maria.until("mail_status", lambda s: s["attempts"] >= 2, timeout=20)

    controller, smtp = smtp_server(port)
    try:
        sent = await maria.until("mail_status", lambda s: s["state"] == "sent", timeout=20)
        assert sent["attempts"] >= 3
        (mail,) = smtp.received
        assert mail.rcpt_tos == ["bo@example.com"] and "> Where is my refund?" in text_part(
            mail.message
        )
        assert (await server.app[DESK].cases.get(case_id))["mail_state"] == "sent"
        cleared = await maria.until(
            "messages", lambda m: all(i["case_id"] != case_id for i in m["items"])
        )
        assert cleared["mail_enabled"] is True
    finally:
        controller.stop()


async def test_a_refused_recipient_waits_for_an_agent_to_retry(
    start: Callable[..., Any], people: list[Any]
) -> None:
    port = free_port()
    controller, smtp = smtp_server(port)
    smtp.refuse = "550 5.1.1 No such mailbox"
    try:
        server = await start(SMTP_URL=f"smtp://127.0.0.1:{port}?starttls=0", **MAIL)
        client = await customer(server, people)
        item = await leave_message(server, client, "cy@example.com", "Is it in stock?")
        case_id = item["case_id"]
        maria = await agent(server, people)
        assert (await maria.call("claim", {"case_id": case_id}))["ok"]
        assert (await maria.call("answer_message", {"case_id": case_id, "text": "Yes!"}))["ok"]
        failed = await maria.until("mail_status", lambda s: s["state"] == "failed", timeout=20)
        assert "No such mailbox" in failed["error"] and failed["next_attempt_at"] is None
        assert smtp.received == []

        smtp.refuse = ""
        retried = await maria.call("retry_mail", {"case_id": case_id})
        assert retried["ok"] and retried["mail"]["state"] == "queued"
        sent = await maria.until("mail_status", lambda s: s["state"] == "sent", timeout=20)
        assert sent["attempts"] == 2 and len(smtp.received) == 1
        nothing = await maria.call("retry_mail", {"case_id": case_id})
        assert nothing["ok"] is False and nothing["error"]["code"] == "nothing_to_retry"
    finally:
        controller.stop()


async def test_closing_a_left_message_sends_no_survey_and_without_smtp_no_answer(
    start: Callable[..., Any], people: list[Any]
) -> None:
    server = await start()  # no SMTP_URL
    client = await customer(server, people)
    item = await leave_message(server, client, "di@example.com", "Call me back please")
    maria = await agent(server, people)
    assert (await maria.next("messages"))["mail_enabled"] is False
    case_id = item["case_id"]
    assert (await maria.call("claim", {"case_id": case_id}))["ok"]
    refused = await maria.call("answer_message", {"case_id": case_id, "text": "Hi"})
    assert refused["ok"] is False and refused["error"]["code"] == "mail_not_configured"
    chat = await maria.call("reply", {"case_id": case_id, "text": "Hi"})
    assert chat["ok"] is False and chat["error"]["code"] == "answer_by_email"

    seen = len(client.received["bot_uttered"])
    assert (await maria.call("close", {"case_id": case_id}))["ok"]
    await maria.until("case_closed", lambda c: c["case_id"] == case_id)
    conversation = await server.app[ROUTER].conversations.get(client.session_id)
    assert conversation.state is State.BOT
    assert client.received["bot_uttered"][seen:] == []  # no closing line, no survey
    assert client.received["agent_left"] == [] and client.received["agent_joined"] == []


async def test_the_console_hears_whether_the_customer_still_has_the_page_open(
    start: Callable[..., Any], people: list[Any]
) -> None:
    server = await start()
    client = await customer(server, people)
    item = await leave_message(server, client, "ed@example.com", "Hello?")
    maria = await agent(server, people)
    case_id = item["case_id"]
    taken = await maria.call("claim", {"case_id": case_id})
    assert taken["case"]["customer_online"] is True
    await client.close()
    opened = await maria.call("open_case", {"case_id": case_id})
    assert opened["case"]["customer_online"] is False
    # The widget channel reports a customer's page coming and going (Handoff.customer_presence).
    await server.app[ROUTER].handoff.customer_presence(client.session_id, True)
    presence = await maria.until("customer_presence", lambda p: p["online"] is True)
    assert presence == {"case_id": case_id, "conversation_id": client.session_id, "online": True}


@pytest.mark.skipif(
    not hasattr(WidgetChannel, "on_disconnect"),
    reason="the widget channel does not report pages coming and going yet",
)
async def test_the_widget_reports_the_customers_last_page_closing(
    start: Callable[..., Any], people: list[Any]
) -> None:
    server = await start()
    client = await customer(server, people)
    item = await leave_message(server, client, "fy@example.com", "Hello?")
    maria = await agent(server, people)
    case_id = item["case_id"]
    assert (await maria.call("claim", {"case_id": case_id}))["ok"]
    await client.close()
    gone = await maria.until("customer_presence", lambda p: p["case_id"] == case_id)
    assert gone["online"] is False
    first = WidgetClient(client.base_url, client.session_id)
    second = WidgetClient(client.base_url, client.session_id)
    people.extend([first, second])
    await first.connect()
    assert (await maria.until("customer_presence", lambda p: True))["online"] is True
    await second.connect()
    assert (await maria.until("customer_presence", lambda p: True))["online"] is True
    await second.close()  # the first tab is still open
    assert (await maria.call("open_case", {"case_id": case_id}))["case"]["customer_online"]
    await first.close()
    assert (await maria.until("customer_presence", lambda p: not p["online"]))["case_id"] == case_id


def test_mail_settings_are_checked_with_clear_errors() -> None:
    smtp = parse_smtp_url("smtp://me%40shop:p%3Ass@mail.example.com:587?starttls=1&timeout=9")
    assert (smtp.hostname, smtp.port, smtp.username, smtp.password) == (
        "mail.example.com",
        587,
        "me@shop",
        "p:ss",
    )
    assert smtp.start_tls is True and smtp.use_tls is False and smtp.timeout == 9
    tls = parse_smtp_url("smtps://mail.example.com?verify=0")
    assert (tls.port, tls.use_tls, tls.start_tls, tls.validate_certs) == (465, True, False, False)
    assert parse_smtp_url("smtp://relay").start_tls is None  # STARTTLS when offered
    for bad, says in (
        ("http://mail.example.com", "smtp://"),
        ("smtp://u:secret@mail.example.com?tls=1", "unknown option"),
        ("smtps://mail.example.com?starttls=1", "TLS already"),
        ("smtp://u:secret@mail.example.com:99999", "bad port"),
    ):
        with pytest.raises(ConfigError) as error:
            parse_smtp_url(bad)
        assert says in str(error.value) and "secret" not in str(error.value)
    with pytest.raises(ConfigError, match="MAIL_FROM is required"):
        mail_settings({"SMTP_URL": "smtp://relay"})
    with pytest.raises(ConfigError, match="MAIL_REPLY_TO"):
        mail_settings({"MAIL_FROM": "help@shop.example", "MAIL_REPLY_TO": "nobody"})
    ok = mail_settings({"SMTP_URL": "smtp://relay", "MAIL_FROM": "Shop <help@shop.example>"})
    assert ok["mail_retry_first"] == 30.0 and ok["mail_retry_max"] == 1800.0
