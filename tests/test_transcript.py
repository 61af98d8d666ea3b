"""Transcripts (issue 22): the console's printable page per conversation, with the role rules
of reading a case, and the customer's copy by e-mail once a person closed the chat — to the
address on file or one typed then (checked), through the real mail outbox and sender to a real
local SMTP server, in the customer's language, once per case; the customer's drafts are never
in it."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from frontdesk.app import make_app
from frontdesk.console.auth import hash_password, socket_token
from frontdesk.console.keys import DESK, SECRET
from tests.conftest import free_port, make_settings
from tests.inbox_support import smtp_server, text_part
from tests.support import AgentClient, handed_over, people

__all__ = ["people"]  # the fixture

pytestmark = pytest.mark.rasa

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
MAIL = {"MAIL_FROM": "Shoe Shop <help@shoes.example>"}


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 30) -> None:
    """Until `check()` holds (the background mail sender reaches it on its own)."""

    async def poll() -> None:
        while True:
            result = check()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def new_agent(server: TestServer, display_name: str, role: str = "agent") -> str:
    name = f"{display_name.lower()}{uuid.uuid4().hex[:6]}"
    fields = {
        "display_name": display_name,
        "password_hash": hash_password("secret-pass"),
        "role": role,
    }
    await server.app[DESK].agents.save(name, fields)
    return name


async def console_of(server: TestServer, name: str, people: list[Any]) -> AgentClient:
    token = socket_token(server.app[SECRET], name)
    client = AgentClient(str(server.make_url("/")).rstrip("/"), token)
    people.append(client)
    await client.connect()
    return client


async def signed_in(server: TestServer, name: str) -> aiohttp.ClientSession:
    """An HTTP session signed in to the console as `name` (through the login form)."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.get(server.make_url("/console/login")) as resp:
        match = CSRF.search(await resp.text())
        assert match
    form = {"username": name, "password": "secret-pass", "csrf_token": match.group(1)}
    async with http.post(server.make_url("/console/login"), data=form) as resp:
        assert resp.status == 200 and "/console/" in str(resp.url)
    return http


async def test_the_transcript_page_prints_the_conversation_for_those_who_may_read_it(
    gateway: TestServer, people: list[Any]
) -> None:
    maria = await new_agent(gateway, "Maria")
    console = await console_of(gateway, maria, people)
    customer, case_id = await handed_over(gateway, console, people)
    await customer.say("the parcel <b>never</b> came")
    await console.until("case_message", lambda m: m["entry"]["role"] == "customer")
    assert (await console.call("reply", {"case_id": case_id, "text": "Checking now."}))["ok"]
    assert (await console.call("close", {"case_id": case_id}))["ok"]
    path = f"/console/transcript/{customer.session_id}"

    http = await signed_in(gateway, maria)
    try:
        async with http.get(gateway.make_url(path)) as resp:
            assert resp.status == 200
            page = await resp.text()
    finally:
        await http.close()
    # Every message, who said it, escaped; the print style sheet and button.
    assert "the parcel &lt;b&gt;never&lt;/b&gt; came" in page
    assert re.search(
        r'fc-tr-agent[^>]*>\s*<span class="fc-tr-time">[^<]*</span>\s*'
        r'<span class="fc-tr-who">Maria</span>\s*<span class="fc-tr-text">Checking now.',
        page,
    )
    assert "Maria has closed this conversation" in page or "closed" in page
    assert "/console/static/transcript/transcript.css" in page and "fc-tr-print" in page
    async with aiohttp.ClientSession() as anonymous:
        css = await (
            await anonymous.get(gateway.make_url("/console/static/transcript/transcript.css"))
        ).text()
    assert "@media print" in css

    # Another plain agent did not handle it: 403; a lead reads it; nobody signed in: login.
    lena = await new_agent(gateway, "Lena")
    lead = await new_agent(gateway, "Olga", role="lead")
    for name, status in ((lena, 403), (lead, 200)):
        http = await signed_in(gateway, name)
        try:
            async with http.get(gateway.make_url(path)) as resp:
                assert resp.status == status, name
        finally:
            await http.close()
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(gateway.make_url(path), allow_redirects=False) as resp,
    ):
        assert resp.status == 302 and "/console/login" in resp.headers["Location"]
    http = await signed_in(gateway, lead)
    try:
        async with http.get(gateway.make_url("/console/transcript/nosuchconversation")) as resp:
            assert resp.status == 404
    finally:
        await http.close()


@pytest.fixture
async def mail_gateway(
    redis_url: str, rasa_url: str, tmp_path: Path, aiohttp_server: Callable[..., Any]
) -> AsyncIterator[tuple[TestServer, Any]]:
    port = free_port()
    controller, smtp = smtp_server(port)
    try:
        settings = make_settings(
            redis_url, rasa_url, tmp_path, SMTP_URL=f"smtp://127.0.0.1:{port}?starttls=0", **MAIL
        )
        server: TestServer = await aiohttp_server(make_app(settings))
        yield server, smtp
    finally:
        controller.stop()


async def test_the_customer_gets_the_transcript_by_email_after_the_chat_is_closed(
    mail_gateway: tuple[TestServer, Any], people: list[Any]
) -> None:
    server, smtp = mail_gateway
    console = await console_of(server, await new_agent(server, "Maria"), people)
    customer, case_id = await handed_over(server, console, people)

    # Not before a person closed the chat.
    early = await customer.sio.call("transcript_request", {}, timeout=10)
    assert early["error"]["code"] == "nothing_to_send"

    draft = await customer.sio.call("user_typing", {"typing": True, "draft": "secret draft"})
    assert draft["ok"] and draft["draft"] is True
    await customer.say("my order 1042 never arrived")
    await console.until("case_message", lambda m: m["entry"]["role"] == "customer")
    assert (await console.call("reply", {"case_id": case_id, "text": "A new one is on its way."}))[
        "ok"
    ]
    assert (await console.call("close", {"case_id": case_id}))["ok"]

    left = await customer.next("agent_left")
    offer = left["transcript"]
    assert offer["button"] == "Send me the transcript" and offer["offer"].endswith("by e-mail?")

    # No e-mail on file: the widget asks for one; a wrong one is refused in the language.
    asked = await customer.sio.call("transcript_request", {}, timeout=10)
    assert asked["error"] == {"code": "email_needed", "message": offer["ask_email"]}
    bad = await customer.sio.call("transcript_request", {"email": "ana@"}, timeout=10)
    assert bad["error"]["code"] == "bad_email" and "name@example.com" in bad["error"]["message"]
    assert smtp.received == []

    sent = await customer.sio.call("transcript_request", {"email": "ana@example.com"}, timeout=10)
    queued = (
        "We're sending the transcript to ana@example.com. It should arrive within a few minutes."
    )
    assert sent == {"ok": True, "message": queued}
    await eventually(lambda: len(smtp.received) == 1)
    (mail,) = smtp.received
    assert mail.rcpt_tos == ["ana@example.com"]
    assert mail.message["Subject"].startswith("Your conversation with our team on ")
    body = text_part(mail.message)
    assert "You: my order 1042 never arrived" in body
    assert "Maria: A new one is on its way." in body
    assert "secret draft" not in body

    # One copy per case: asking again says where it went, and sends nothing more.
    again = await customer.sio.call("transcript_request", {"email": "bob@example.com"}, timeout=10)
    assert again["ok"] and "ana@example.com" in again["message"]
    assert len(smtp.received) == 1


async def test_the_transcript_goes_to_the_address_on_file_in_the_customers_language(
    mail_gateway: tuple[TestServer, Any], people: list[Any]
) -> None:
    server, smtp = mail_gateway
    console = await console_of(server, await new_agent(server, "Marta"), people)
    customer, case_id = await handed_over(
        server,
        console,
        people,
        custom={"language": "es", "customer_email": "lucia@example.com"},
        title="Hablar con una persona",
    )
    assert (await console.call("reply", {"case_id": case_id, "text": "¡Hola! Ya lo miro."}))["ok"]
    assert (await console.call("close", {"case_id": case_id}))["ok"]
    left = await customer.next("agent_left")
    assert left["transcript"]["button"] == "Enviarme la transcripción"

    sent = await customer.sio.call("transcript_request", {}, timeout=10)
    assert sent["ok"] and "lucia@example.com" in sent["message"], sent
    assert sent["message"].startswith("Estamos enviando la transcripción")
    await eventually(lambda: len(smtp.received) == 1)
    (mail,) = smtp.received
    assert mail.rcpt_tos == ["lucia@example.com"]
    assert mail.message["Subject"].startswith("Tu conversación con nuestro equipo")
    assert "Marta: ¡Hola! Ya lo miro." in text_part(mail.message)


async def test_without_mail_set_up_the_transcript_is_not_offered(
    gateway: TestServer, people: list[Any]
) -> None:
    console = await console_of(gateway, await new_agent(gateway, "Maria"), people)
    customer, case_id = await handed_over(gateway, console, people)
    assert (await console.call("close", {"case_id": case_id}))["ok"]
    left = await customer.next("agent_left")
    assert "transcript" not in left
    refused = await customer.sio.call("transcript_request", {"email": "ana@example.com"})
    assert refused["error"]["code"] == "unavailable"
