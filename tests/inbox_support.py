"""Helpers for the offline inbox tests: a real local SMTP server (aiosmtpd) that records what it
receives, a customer who leaves a message through the widget, and an agent console client that
also records the inbox's events."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from frontdesk.app import ROUTER
from frontdesk.core.conversation import LEAVE_MESSAGE
from frontdesk.mail.web import INBOX
from tests.support import AGENT_EVENTS, AgentClient, Recorder, WidgetClient

INBOX_EVENTS = (*AGENT_EVENTS, "messages", "mail_status", "customer_presence")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class MailServer:
    """An aiosmtpd handler: keeps every message; refuses recipients while `refuse` is set."""

    received: list[Received] = field(default_factory=list)
    refuse: str = ""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def smtp_server(port: int) -> tuple[Controller, MailServer]:
    handler = MailServer()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, handler


class InboxAgent(AgentClient):
    """An agent console connection that also records the inbox's events."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.name = token.rsplit(":", 2)[0]
        Recorder.__init__(self, INBOX_EVENTS, namespace="/agent")


async def leave_message(
    server: TestServer, client: WidgetClient, address: str, text: str
) -> dict[str, Any]:
    """The customer asks for a person, nobody takes it, and they leave a message: its item in
    the offline inbox."""
    router = server.app[ROUTER]
    conversation = await router.conversations.get(client.session_id)
    await router.handoff.request(conversation, "customer_asked")
    await client.say(LEAVE_MESSAGE, title="Leave a message")
    await client.until_message(lambda m: "e-mail address" in m.get("text", ""))
    await client.say(address)
    await client.until_message(lambda m: "What would you like us to know" in m.get("text", ""))
    await client.say(text)
    await client.until_message(lambda m: "your message is saved" in m.get("text", ""))
    items = await server.app[INBOX].items()
    item: dict[str, Any] = next(i for i in items if i["conversation_id"] == client.session_id)
    return item


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")
