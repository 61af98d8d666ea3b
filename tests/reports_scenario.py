"""A scripted day of conversations, played through the real gateway (widget Socket.IO clients,
agents' console connections, a scripted bot), for the reports' tests — and what the reports
must say about it, computed by hand below.

    A  asks for an invoice copy; answered; rates the answer "yes"            contained
    B  asks the same; answered; rates it "no"; asks for a person             not_answered
       maria takes it after 95 s (quote said at most 60 s), replies, tags "double charge",
       closes; CSAT 5, effort 4, comment "=1+1 quick and kind"
    C  (Spanish) writes two things the bot does not understand; the bot offers a person;
       asks for one                                                         bot_failed
       omar takes it after 22 s (quote said at most 300 s), replies, tags "payment failed"
       and "double charge", closes; CSAT 2, effort 1, no comment
    D  says the parcel arrived broken: answered, and the topic rule passes it on; cancels
                                                                             topic
    E  says hello, nothing else                                              (not a conversation)
    F  asks something the bot is not sure about, and leaves                 declined, no handoff
    G  asks for a person at once, then leaves a message instead; maria takes it and closes it
       without a reply in frontdesk (no e-mail set up)                      customer_asked
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from frontdesk.app import REDIS, SECRET, make_app
from frontdesk.config import ROOT
from frontdesk.console.auth import hash_password, socket_token
from frontdesk.console.keys import DESK
from frontdesk.store.cases import CaseStore
from tests.conftest import make_settings
from tests.fake_rasa import FakeRasa, Turn
from tests.support import AgentClient, WidgetClient

PASSWORD = "correct horse"
HANDOFF = Turn("human_handoff", texts=(), control={"event": "handoff", "reason": "customer_asked"})
COMMENT = "=1+1 quick and kind"


def faq(answer: str, confidence: float = 0.9, text: str = "Here is how.") -> Turn:
    return Turn(answer.split("/")[0], 0.95, answer, confidence, (text,))


def bot_data_copy(tmp_path: Path) -> Path:
    """The bot's FAQ data in a temporary directory: learned.yml is written there, never to
    the real bot/data."""
    target = tmp_path / "bot-data"
    target.mkdir()
    for path in (ROOT / "bot" / "data").glob("faq_*.yml"):
        shutil.copy(path, target / path.name)
    return target


@dataclass
class Desk:
    server: TestServer
    fake: FakeRasa
    data_dir: Path
    clients: list[Any] = field(default_factory=list)

    @property
    def base(self) -> str:
        return str(self.server.make_url("/")).rstrip("/")

    def customer(self) -> WidgetClient:
        self.clients.append(WidgetClient(self.base))
        return self.clients[-1]

    async def account(self, name: str, role: str, display_name: str = "") -> None:
        fields = {
            "display_name": display_name or name.title(),
            "password_hash": hash_password(PASSWORD),
            "role": role,
        }
        await self.server.app[DESK].agents.save(name, fields)

    async def agent(self, name: str) -> AgentClient:
        await self.account(name, "agent")
        client = AgentClient(self.base, socket_token(self.server.app[SECRET], name))
        self.clients.append(client)
        await client.connect()
        return client

    @property
    def cases(self) -> CaseStore:
        return CaseStore(self.server.app[REDIS])


@pytest.fixture
async def desk(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> AsyncIterator[Desk]:
    fake, url = fake_rasa
    data_dir = bot_data_copy(tmp_path)
    settings = make_settings(redis_url, url, tmp_path, BOT_DATA_DIR=str(data_dir))
    server: TestServer = await aiohttp_server(make_app(settings))
    made = Desk(server, fake, data_dir)
    yield made
    for client in made.clients:
        await client.close()


async def ask(customer: WidgetClient, text: str, **extra: Any) -> list[dict[str, Any]]:
    ack = await customer.say(text, **extra)
    assert ack.get("ok"), ack
    return await customer.answer()


@dataclass
class Played:
    case_b: str = ""
    case_c: str = ""
    message_g: str = ""
    conversations: dict[str, str] = field(default_factory=dict)


async def _case_of(desk: Desk, customer: WidgetClient) -> str:
    conversation = await desk.server.app[DESK].store.get_conversation(customer.session_id)
    case_id = conversation.get("case_id", "")
    assert case_id, f"{customer.session_id} has no case: {conversation}"
    return case_id


async def _waited(desk: Desk, case_id: str, seconds: float, quote_high: int) -> None:
    """As if the customer had asked `seconds` earlier and been quoted at most `quote_high`."""
    case = await desk.cases.get(case_id)
    requested = float(case["requested_at"]) - seconds
    await desk.cases.update(
        case_id, {"requested_at": f"{requested:.3f}", "quote_high": str(quote_high)}
    )


async def _served(agent: AgentClient, case_id: str, tags: list[str]) -> None:
    for event, data in (
        ("claim", {"case_id": case_id}),
        ("reply", {"case_id": case_id, "text": "I'm on it."}),
        ("tags", {"case_id": case_id, "tags": tags}),
        ("close", {"case_id": case_id}),
    ):
        result = await agent.call(event, data)
        assert result["ok"], (event, result)


async def _survey(customer: WidgetClient, csat: int, effort: int, comment: str | None) -> None:
    await customer.until_message(
        lambda m: any(q["payload"].startswith("/fd_csat") for q in m.get("quick_replies") or [])
    )
    await ask(customer, f"/fd_csat:{csat}")
    await ask(customer, f"/fd_effort:{effort}")
    await ask(customer, comment if comment is not None else "/fd_survey_skip")


async def play(desk: Desk) -> Played:
    fake = desk.fake
    fake.script.update(
        {
            "invoice please": faq("billing/invoice_copy", 0.87),
            "/human_handoff": HANDOFF,
            "the parcel arrived broken": faq("returns/damaged_item"),
            "hello": Turn("greet", texts=("Hi!",)),
            "bill copy pls": faq("billing/invoice_copy", 0.2),
        }
    )
    played = Played()
    maria = await desk.agent("maria")
    omar = await desk.agent("omar")

    a = desk.customer()
    await a.connect()
    (answer,) = await ask(a, "invoice please")
    assert (await a.sio.call("answer_feedback", {"seq": answer["seq"], "helpful": True}))["ok"]

    b = desk.customer()
    await b.connect()
    (answer,) = await ask(b, "invoice please")
    assert (await b.sio.call("answer_feedback", {"seq": answer["seq"], "helpful": False}))["ok"]
    await b.until_message(lambda m: m.get("quick_replies"))
    await ask(b, "/human_handoff")
    played.case_b = await _case_of(desk, b)
    await _waited(desk, played.case_b, 95, 60)
    await _served(maria, played.case_b, ["double charge"])
    await _survey(b, 5, 4, COMMENT)

    c = desk.customer()
    await c.connect(custom={"language": "es"})
    await ask(c, "qwertz", customData={"language": "es"})
    await ask(c, "asdfgh", customData={"language": "es"})
    await ask(c, "/human_handoff", customData={"language": "es"})
    played.case_c = await _case_of(desk, c)
    await _waited(desk, played.case_c, 22, 300)
    await _served(omar, played.case_c, ["payment failed", "double charge"])
    await _survey(c, 2, 1, None)

    d = desk.customer()
    await d.connect()
    await ask(d, "the parcel arrived broken")
    await _waited(desk, await _case_of(desk, d), 0, 600)
    await ask(d, "/fd_cancel_handoff")

    e = desk.customer()
    await e.connect()
    await ask(e, "hello")

    f = desk.customer()
    await f.connect()
    await ask(f, "bill copy pls")

    g = desk.customer()
    await g.connect()
    await ask(g, "/human_handoff")
    await _waited(desk, await _case_of(desk, g), 0, 600)
    await ask(g, "/fd_leave_message")
    await ask(g, "g@example.com")
    await ask(g, "Please call me back about my order")
    played.message_g = await _case_of(desk, g)
    for event, data in (  # answered from maria's own mailbox: closed without a reply here
        ("claim", {"case_id": played.message_g}),
        ("close", {"case_id": played.message_g}),
    ):
        result = await maria.call(event, data)
        assert result["ok"], (event, result)
    played.conversations = {
        name: client.session_id
        for name, client in zip("ABCDEFG", (a, b, c, d, e, f, g), strict=True)
    }
    return played
