"""The spine: a customer asks through the widget protocol; the real Rasa bot answers."""

from __future__ import annotations

import pytest

from frontdesk.config import ROOT
from frontdesk.core.templates import Templates
from tests.bot_answers import area_of, response_of
from tests.support import WidgetClient

pytestmark = pytest.mark.rasa
TEMPLATES = Templates(ROOT / "flows", "en")

QUESTIONS = {
    "billing": "How do I get a copy of my invoice?",
    "orders": "I'd like to cancel my order please",
    "shipping": "How can I track my parcel?",
    "returns": "I want to return my shoes",
    "account": "I forgot my password and can't log in",
}


async def test_each_area_gets_its_answer(widget_client_factory: type[WidgetClient]) -> None:
    client = widget_client_factory()
    history = await client.connect()
    assert history["messages"] == []
    for area, question in QUESTIONS.items():
        ack = await client.say(question)
        assert ack["ok"] and not ack["duplicate"]
        answer = await client.answer()
        assert answer, f"no answer to {question!r}"
        assert area_of(answer[0]["text"]) == area, (question, answer)
        assert answer[0]["sender"]["kind"] == "bot"
        assert answer[0]["seq"] > ack["seq"]


async def test_quick_replies_greetings_and_out_of_scope(
    widget_client_factory: type[WidgetClient],
) -> None:
    client = widget_client_factory()
    await client.connect()

    await client.say("I want to return my shoes")
    answer = await client.answer()
    replies = [q for m in answer for q in m.get("quick_replies", [])]
    assert replies and all(q["content_type"] == "text" and q["title"] for q in replies)

    await client.say("hello there")
    assert response_of((await client.answer())[0]["text"]) == "utter_greet"
    await client.say("thanks a lot!")
    assert response_of((await client.answer())[0]["text"]) == "utter_thanks"
    await client.say("what's the weather going to be like in Paris tomorrow?")
    answer = await client.answer()
    assert response_of(answer[0]["text"]) in {"utter_out_of_scope", "utter_default"}
    assert area_of(answer[0]["text"]) is None
    # A vague message the classifier maps to an area with a confident intent but an answer
    # from elsewhere gets the gateway's honest "not sure", never a wrong FAQ answer; other vague
    # messages get the bot's own fallback. Either way, a person is offered.
    await client.say("I have a problem")
    answer = await client.answer()
    unsure = {TEMPLATES.render("en", key) for key in ("unsure_answer", "unsure_suggest")}
    assert answer[0]["text"] in unsure or response_of(answer[0]["text"]) == "utter_default", answer
    assert area_of(answer[0]["text"]) is None
    assert any(q["payload"] == "/human_handoff" for m in answer for q in m.get("quick_replies", []))
    # "Something is wrong with it" either gets an honest "not sure" with a person offered, or
    # is read as a wrong or faulty item, a topic that goes straight to a person.
    await client.say("something is wrong with it")
    answer = await client.answer()
    payloads = {q["payload"] for m in answer for q in m.get("quick_replies", [])}
    if area_of(answer[0]["text"]) is None:
        assert "/human_handoff" in payloads, answer
    else:
        assert response_of(answer[0]["text"]) in {
            "utter_returns/wrong_item",
            "utter_returns/damaged_item",
        }, answer
        # A damaged item goes to a person (who can be cancelled); for a wrong one, one is offered.
        assert payloads & {"/fd_cancel_handoff", "/fd_topic_person"}, answer
        handoff = "/fd_cancel_handoff" in payloads
        await client.say("/fd_cancel_handoff" if handoff else "/fd_no_person")
        await client.answer()
    await client.say("bye!")
    assert response_of((await client.answer())[0]["text"]) == "utter_goodbye"


async def test_reconnect_returns_history_without_duplicates(
    widget_client_factory: type[WidgetClient],
) -> None:
    first = widget_client_factory()
    await first.connect()
    ack = await first.say("How do I get a copy of my invoice?")
    answer = await first.answer()
    await first.close()

    again = widget_client_factory(first.session_id)
    history = await again.connect(last_seq=0)
    seqs = [m["seq"] for m in history["messages"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert history["messages"][0]["role"] == "customer"
    assert history["messages"][0]["text"] == "How do I get a copy of my invoice?"
    assert [m["text"] for m in history["messages"][1:]] == [m["text"] for m in answer]
    assert history["last_seq"] == seqs[-1]

    # A reconnect that already saw everything gets nothing twice.
    third = widget_client_factory(first.session_id)
    assert (await third.connect(last_seq=history["last_seq"]))["messages"] == []
    partial = widget_client_factory(first.session_id)
    rest = await partial.connect(last_seq=ack["seq"])
    assert [m["seq"] for m in rest["messages"]] == seqs[ack["seq"] :]


async def test_resending_a_client_message_id_stores_it_once(
    widget_client_factory: type[WidgetClient],
) -> None:
    client = widget_client_factory()
    await client.connect()
    first = await client.say("Where is my order 1042?", client_msg_id="m-1")
    await client.answer()
    again = await client.say("Where is my order 1042?", client_msg_id="m-1")
    assert again == {"ok": True, "seq": first["seq"], "duplicate": True}

    other = widget_client_factory(client.session_id)
    history = await other.connect()
    customer = [m for m in history["messages"] if m["role"] == "customer"]
    assert len(customer) == 1 and customer[0]["client_msg_id"] == "m-1"


CYRILLIC = set("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")


@pytest.mark.parametrize(
    ("language", "question", "response", "marker"),
    [
        ("en", "where's my stuff??", "utter_orders/status", "Orders"),
        ("en", "my discount code does not work", "utter_billing/discount_code", "code"),
        ("ru", "Как вернуть товар?", "utter_returns/how_to_return", "Возврат"),
        ("ru", "промокод не работает", "utter_billing/discount_code", "промокод"),
        ("es", "¿Cómo puedo devolver un producto?", "utter_returns/how_to_return", "Devolución"),
        ("es", "no me llega el reembolso", "utter_returns/policy", "reembolso"),
    ],
)
async def test_the_model_answers_in_each_language(
    widget_client_factory: type[WidgetClient],
    language: str,
    question: str,
    response: str,
    marker: str,
) -> None:
    """A customer on an English page who writes Russian or Spanish is answered, buttons
    included, in their language; and the answer says which answer it is."""
    client = widget_client_factory()
    await client.connect(custom={"language": "en"})
    await client.say(question, customData={"language": "en"})
    answer = await client.answer()
    assert response_of(answer[0]["text"]) == response, answer
    assert answer[-1]["answer_id"] == response.removeprefix("utter_")
    text = " ".join(m["text"] for m in answer)
    titles = " ".join(q["title"] for m in answer for q in m.get("quick_replies", []))
    assert marker.lower() in text.lower(), text
    has_cyrillic = bool(CYRILLIC & set((text + titles).lower()))
    assert has_cyrillic == (language == "ru"), (text, titles)
    if language == "es":
        assert "Talk to a person" not in titles and "Sign in" not in text


async def test_a_russian_greeting_is_greeted_in_russian(
    widget_client_factory: type[WidgetClient],
) -> None:
    client = widget_client_factory()
    await client.connect(custom={"language": "en"})
    await client.say("Здравствуйте", customData={"language": "en"})
    answer = await client.answer()
    assert response_of(answer[0]["text"]) == "utter_greet"
    assert CYRILLIC & set(answer[0]["text"].lower())
    assert all(CYRILLIC & set(q["title"].lower()) for q in answer[0]["quick_replies"])
