"""The gateway's routing rules with a scripted bot (no model): what the customer sees when the
bot is unsure, fails twice, hits a topic that needs a person, when the customer writes in
another language, and when they rate an answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from frontdesk.app import make_app
from frontdesk.config import ROOT
from frontdesk.core.templates import Templates
from tests.conftest import make_settings
from tests.fake_rasa import FakeRasa, Turn
from tests.support import WidgetClient

TEMPLATES = Templates(ROOT / "flows", "en")
ANSWER = "You can download every invoice under Account → Orders."


@pytest.fixture
async def scripted(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> AsyncIterator[tuple[FakeRasa, Callable[..., WidgetClient], TestServer]]:
    fake, url = fake_rasa
    server: TestServer = await aiohttp_server(make_app(make_settings(redis_url, url, tmp_path)))
    base = str(server.make_url("/")).rstrip("/")
    clients: list[WidgetClient] = []

    def client() -> WidgetClient:
        clients.append(WidgetClient(base))
        return clients[-1]

    yield fake, client, server
    for c in clients:
        await c.close()


def faq(answer: str, confidence: float = 0.9, text: str = ANSWER) -> Turn:
    return Turn(answer.split("/")[0], 0.95, answer, confidence, (text,))


async def test_an_faq_answer_says_which_answer_it_is_and_can_be_rated(
    scripted: tuple[FakeRasa, Callable[..., WidgetClient], TestServer],
) -> None:
    fake, client, server = scripted
    fake.script["invoice please"] = faq("billing/invoice_copy", 0.87)
    customer = client()
    await customer.connect()
    await customer.say("invoice please")
    (answer,) = await customer.answer()
    assert answer["text"] == ANSWER
    assert answer["answer_id"] == "billing/invoice_copy"
    assert answer["answer_confidence"] == pytest.approx(0.87)

    ack = await customer.sio.call("answer_feedback", {"seq": answer["seq"], "helpful": True})
    assert ack == {"ok": True, "answer_id": "billing/invoice_copy"}
    ack = await customer.sio.call("answer_feedback", {"seq": answer["seq"] - 1, "helpful": True})
    assert ack["ok"] is False and ack["error"]["code"] == "bad_request"  # not an answer
    # "No, that didn't answer it" offers a person at once.
    ack = await customer.sio.call("answer_feedback", {"seq": answer["seq"], "helpful": False})
    assert ack["ok"] is True
    offer = await customer.until_message(lambda m: m.get("quick_replies"))
    assert offer["text"] == TEMPLATES.render("en", "answer_not_helpful")
    assert offer["quick_replies"][0]["payload"] == "/human_handoff"
    async with aiohttp.ClientSession() as http, http.get(server.make_url("/metrics")) as resp:
        metrics = await resp.text()
    line = 'frontdesk_answer_ratings_total{answer_id="billing/invoice_copy",rating="yes"} 1.0'
    assert line in metrics


async def test_unsure_answers_are_declined_honestly(
    scripted: tuple[FakeRasa, Callable[..., WidgetClient], TestServer],
) -> None:
    fake, client, _ = scripted
    fake.script["low"] = faq("billing/invoice_copy", 0.2)
    other_area = faq("billing/invoice_copy")
    other_area.intent = "orders"  # the chosen answer belongs to another area
    fake.script["mixed"] = other_area
    customer = client()
    await customer.connect()
    for message in ("low", "mixed"):
        await customer.say(message)
        answer = (await customer.answer())[0]  # the second in a row also offers a person
        # Not given as an answer: offered as a question to tap, next to a person.
        assert answer["text"] == TEMPLATES.render("en", "unsure_suggest")
        assert "answer_id" not in answer
        question = "How do I get a copy of my invoice?"
        assert [q["payload"] for q in answer["quick_replies"]] == [question, "/human_handoff"]


async def test_two_fallbacks_in_a_row_offer_a_person(
    scripted: tuple[FakeRasa, Callable[..., WidgetClient], TestServer],
) -> None:
    _, client, _ = scripted
    customer = client()
    await customer.connect()
    await customer.say("qwertz")
    first = await customer.answer()
    assert [m["text"] for m in first] == ["Could you rephrase that?"]
    await customer.say("asdfgh")
    second = await customer.answer()
    assert second[-1]["text"] == TEMPLATES.render("en", "offer_person")


async def test_a_topic_that_needs_a_person_is_passed_on(
    scripted: tuple[FakeRasa, Callable[..., WidgetClient], TestServer],
) -> None:
    fake, client, _ = scripted
    fake.script["it arrived broken"] = faq("returns/damaged_item", text="Sorry it arrived damaged.")
    customer = client()
    await customer.connect()
    await customer.say("it arrived broken")
    status = await customer.next("queue_status")
    assert not status.get("cleared")


async def test_a_customer_writing_russian_on_an_english_page_is_answered_in_russian(
    scripted: tuple[FakeRasa, Callable[..., WidgetClient], TestServer],
) -> None:
    fake, client, _ = scripted
    fake.script["Где мой счёт за заказ?"] = faq("billing/invoice_copy", 0.1)
    fake.script["hello"] = Turn("greet", texts=("Hi!",))
    customer = client()
    await customer.connect(custom={"language": "en"})
    await customer.say("hello", customData={"language": "en"})
    await customer.answer()
    assert fake.received[-1]["metadata"]["language"] == "en"
    await customer.say("Где мой счёт за заказ?", customData={"language": "en"})
    (answer,) = await customer.answer()
    # The bot is asked in Russian, and the gateway's own words are Russian too.
    assert fake.received[-1]["metadata"]["language"] == "ru"
    assert answer["text"] == TEMPLATES.render("ru", "unsure_suggest")
    assert answer["quick_replies"][0]["title"] == "Как получить копию счёта?"
    config = await customer.until("widget_config", lambda c: c.get("detected"))
    assert config["language"] == "ru"
    assert config["status_text"] == TEMPLATES.render("ru", "header_offline")  # nobody online
    # The page still names English with every message; that does not undo the switch.
    fake.script["1234"] = Turn("greet", texts=("Hi!",))
    await customer.say("1234", customData={"language": "en"})
    await customer.answer()
    assert fake.received[-1]["metadata"]["language"] == "ru"
