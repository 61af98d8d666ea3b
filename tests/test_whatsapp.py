"""The WhatsApp channel against the real gateway, real Redis, the real Rasa (where the bot's
answer matters) and a fake Cloud API on loopback (tests/fake_apis.FakeWhatsApp).

Webhook bodies are shaped as Meta's webhook payload examples show them
(https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from frontdesk.app import OUTBOX, ROUTER, STORE, make_app
from frontdesk.config import load_settings
from frontdesk.console.keys import DESK
from frontdesk.core.messages import Outbound, QuickReply
from frontdesk.errors import ConfigError
from frontdesk.files.web import FILES
from frontdesk.keys import WHATSAPP_CHANNEL
from frontdesk.mail.web import INBOX
from tests.bot_answers import area_of
from tests.conftest import flows_copy, free_port, make_settings
from tests.fake_apis import Call, FakeWhatsApp
from tests.files_support import PDF, png

TOKEN = "EAAJ-test-whatsapp-access-token"
PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "fedcba9876543210-app-secret"
VERIFY_TOKEN = "verify-whatsapp-please"
WABA_ID = "102290129340398"
_numbers = itertools.count(uuid.uuid4().int % 10**6)


def new_wa_id(country: str = "1555") -> str:
    """A customer's WhatsApp id: their number with its country code, digits only."""
    return f"{country}{next(_numbers):07d}"


def new_wamid() -> str:
    return f"wamid.HBgL{uuid.uuid4().hex.upper()}"


def message(
    wa_id: str, kind: str, content: dict[str, Any], sent: float | None = None, **extra: Any
) -> dict[str, Any]:
    stamp = str(int(sent if sent is not None else time.time()))
    return {
        "from": wa_id,
        "id": new_wamid(),
        "timestamp": stamp,
        "type": kind,
        kind: content,
        **extra,
    }


def text_message(wa_id: str, words: str, sent: float | None = None) -> dict[str, Any]:
    return message(wa_id, "text", {"body": words}, sent)


def body(*messages: dict[str, Any], phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": "Ana Pérez"}, "wa_id": m["from"]} for m in messages],
        "messages": list(messages),
    }
    change = {"value": value, "field": "messages"}
    return {"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [change]}]}


def signature(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


async def post_body(
    server: TestServer, payload: Any, sign: str | None = APP_SECRET, raw: bytes | None = None
) -> tuple[int, str]:
    data = raw if raw is not None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if sign is not None:
        headers["X-Hub-Signature-256"] = signature(data, sign)
    url = server.make_url("/channels/whatsapp")
    async with ClientSession() as http, http.post(url, data=data, headers=headers) as resp:
        return resp.status, await resp.text()


def to(wa_id: str) -> Callable[[Call], bool]:
    """Messages to this customer (not read receipts or typing indicators)."""
    return lambda c: c.body.get("to") == wa_id


def texts(calls: list[Call]) -> list[str]:
    return [c.body["text"]["body"] for c in calls if c.body.get("type") == "text"]


@pytest.fixture
async def fake_whatsapp(aiohttp_server: Callable[..., Any]) -> FakeWhatsApp:
    fake = FakeWhatsApp(TOKEN, PHONE_NUMBER_ID)
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url(f"/{fake.version}")).rstrip("/")
    return fake


@pytest.fixture
def start_gateway(
    redis_url: str, tmp_path: Path, aiohttp_server: Callable[..., Any], fake_whatsapp: FakeWhatsApp
) -> Callable[..., Any]:
    async def start(rasa_url: str | None = None, **env: str) -> TestServer:
        channel = {
            "WHATSAPP_TOKEN": TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "WHATSAPP_API_URL": fake_whatsapp.url,
        }
        rasa = rasa_url or f"http://127.0.0.1:{free_port()}"  # default: Rasa down
        settings = make_settings(redis_url, rasa, tmp_path, **{**channel, **env})
        server: TestServer = await aiohttp_server(make_app(settings))
        return server

    return start


async def customer_writes(
    server: TestServer, fake: FakeWhatsApp, wa_id: str, words: str = "hello, world!"
) -> Call:
    """The customer writes (which opens the 24-hour window); the gateway's answer."""
    before = len([c for c in fake.of("messages") if to(wa_id)(c)])
    assert (await post_body(server, body(text_message(wa_id, words))))[0] == 200
    return (await fake.wait_for("messages", before + 1, to(wa_id)))[-1]


async def test_verification_answers_the_challenge_only_with_the_right_token(
    start_gateway: Callable[..., Any],
) -> None:
    server = await start_gateway()
    url = server.make_url("/channels/whatsapp")
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    async with ClientSession() as http:
        async with http.get(url, params=query) as resp:
            assert resp.status == 200 and await resp.text() == "1158201444"
        async with http.get(url, params={**query, "hub.verify_token": "guess"}) as resp:
            assert resp.status == 403
        async with http.get(url, params={**query, "hub.mode": "unsubscribe"}) as resp:
            assert resp.status == 403


async def test_forged_signatures_are_refused_and_nothing_is_stored(
    start_gateway: Callable[..., Any], fake_whatsapp: FakeWhatsApp
) -> None:
    server = await start_gateway()
    wa_id = new_wa_id()
    payload = body(text_message(wa_id, "hello, world!"))
    assert (await post_body(server, payload, sign="someone-elses-secret"))[0] == 403
    assert (await post_body(server, payload, sign=None))[0] == 403
    raw = json.dumps(payload).encode()
    headers = {"X-Hub-Signature-256": signature(raw)}  # the signature of the untampered body
    async with ClientSession() as http:
        url = server.make_url("/channels/whatsapp")
        async with http.post(url, data=raw.replace(b"hello", b"HELLO"), headers=headers) as resp:
            assert resp.status == 403
    assert (await post_body(server, None, raw=b"{oops"))[0] == 400
    assert (await post_body(server, {"object": "page", "entry": []}))[0] == 400
    store = server.app[STORE]
    assert await store.get_conversation(f"whatsapp:{wa_id}") == {}
    assert await store.history(f"whatsapp:{wa_id}") == []
    assert fake_whatsapp.calls == []


async def test_a_replayed_webhook_is_processed_once_and_a_stale_one_is_ignored(
    start_gateway: Callable[..., Any], fake_whatsapp: FakeWhatsApp
) -> None:
    server = await start_gateway()
    wa_id = new_wa_id()
    first = body(text_message(wa_id, "hello, world!"))
    assert (await post_body(server, first))[0] == 200
    assert (await post_body(server, first))[0] == 200  # Meta retried, or someone replayed it
    stale = body(text_message(wa_id, "I was sent 8 days ago", sent=time.time() - 8 * 86400))
    assert (await post_body(server, stale))[0] == 200  # acknowledged, so Meta stops retrying
    other_number = body(text_message(wa_id, "to our other number"), phone_number_id="999")
    assert (await post_body(server, other_number))[0] == 200
    assert (await post_body(server, body(text_message(wa_id, "Anyone there?"))))[0] == 200
    # Turns run in order: once the answer to "Anyone there?" is out, any other would be too.
    await fake_whatsapp.wait_for("messages", 2, to(wa_id))
    replies = [c for c in fake_whatsapp.of("messages") if to(wa_id)(c)]
    assert len(replies) == 2 and all("your message is saved" in t for t in texts(replies))
    history = await server.app[STORE].history(f"whatsapp:{wa_id}")
    customer = [e["text"] for e in history if e["role"] == "customer"]
    assert customer == ["hello, world!", "Anyone there?"]
    conversation = await server.app[STORE].get_conversation(f"whatsapp:{wa_id}")
    assert conversation["channel_user"] == f"+{wa_id}"
    assert conversation["customer_name"] == "Ana Pérez"


async def test_quick_replies_become_buttons_or_a_list_and_a_tap_routes_its_payload(
    start_gateway: Callable[..., Any], fake_whatsapp: FakeWhatsApp
) -> None:
    server = await start_gateway()
    wa_id = new_wa_id()
    conv = f"whatsapp:{wa_id}"
    await customer_writes(server, fake_whatsapp, wa_id)
    outbox = server.app[OUTBOX]
    three = (
        QuickReply("Yes, please", "/fd_topic_person"),
        QuickReply("No, thanks — I'll sort it out myself", "/fd_no_person"),
        QuickReply("Where is my order?", '/orders{"order": "1042", "note": "' + "x" * 80 + '"}'),
    )
    await outbox.send(conv, "whatsapp", Outbound("Would you like a person?", three))
    buttons = fake_whatsapp.of("messages")[-1].body
    assert buttons["type"] == "interactive" and buttons["to"] == wa_id
    assert buttons["interactive"]["type"] == "button"
    assert buttons["interactive"]["body"]["text"] == "Would you like a person?"
    sent = [b["reply"] for b in buttons["interactive"]["action"]["buttons"]]
    assert [b["title"] for b in sent] == [
        "Yes, please",
        "No, thanks — I'll s…",
        "Where is my order?",
    ]
    assert all(len(b["title"]) <= 20 for b in sent)
    assert [b["id"] for b in sent[:2]] == ["/fd_topic_person", "/fd_no_person"]
    assert len(sent[2]["id"]) <= 64  # a long payload goes by a short id

    five = tuple(
        QuickReply(f"Choice number {n} with a long title", f"/choose_{n}") for n in range(5)
    )
    await outbox.send(conv, "whatsapp", Outbound("", five))
    listed = fake_whatsapp.of("messages")[-1].body["interactive"]
    assert listed["type"] == "list" and listed["action"]["button"] == "See options"
    assert listed["body"]["text"] == "Please choose one:"
    [section] = listed["action"]["sections"]
    assert [r["id"] for r in section["rows"]] == [f"/choose_{n}" for n in range(5)]
    assert all(len(r["title"]) <= 24 for r in section["rows"])
    assert section["rows"][0]["description"] == "Choice number 0 with a long title"

    # The customer taps the third button: its payload, not its title, reaches the router.
    tap = {
        "type": "button_reply",
        "button_reply": {"id": sent[2]["id"], "title": "Where is my order?"},
    }
    assert (await post_body(server, body(message(wa_id, "interactive", tap))))[0] == 200
    row = {"type": "list_reply", "list_reply": {"id": "/choose_3", "title": "Choice number 3…"}}
    assert (await post_body(server, body(message(wa_id, "interactive", row))))[0] == 200
    await fake_whatsapp.wait_for("messages", 5, to(wa_id))  # the answers to both taps
    history = await server.app[STORE].history(conv)
    taps = [(e["text"], e.get("payload")) for e in history if e["role"] == "customer"][1:]
    assert taps == [
        ("Where is my order?", three[2].payload),
        ("Choice number 3…", "/choose_3"),
    ]


async def test_a_photo_both_ways(
    start_gateway: Callable[..., Any], fake_whatsapp: FakeWhatsApp
) -> None:
    server = await start_gateway()
    wa_id = new_wa_id("7")  # a Russian number: the conversation starts in Russian
    conv = f"whatsapp:{wa_id}"
    photo = png(4, 3)
    fake_whatsapp.add_media("1033404127654321", photo)
    image = {"id": "1033404127654321", "mime_type": "image/jpeg", "sha256": "abc"}
    assert (await post_body(server, body(message(wa_id, "image", image))))[0] == 200
    [kept] = await fake_whatsapp.wait_for("messages", where=to(wa_id))
    assert "сохранил фото" in _words(kept)
    history = await server.app[STORE].history(conv)
    [entry] = [e for e in history if e["role"] == "customer"]
    assert entry["text"] == "[photo]" and entry["attachment"]["size"] == len(photo)
    assert entry["attachment"]["type"] == "image/png"  # what the bytes are

    files = server.app[FILES]
    label = await files.save(png(), "label.png", "agent:maria")
    invoice = await files.save(PDF, "invoice.pdf", "agent:maria")
    outbox = server.app[OUTBOX]
    await outbox.send(conv, "whatsapp", Outbound(attachment=label.public(), role="agent"))
    await outbox.send(conv, "whatsapp", Outbound(attachment=invoice.public(), role="agent"))
    uploads = fake_whatsapp.of("media")
    assert [u.body["file"]["bytes"] for u in uploads] == [png(), PDF]
    assert [u.body["type"] for u in uploads] == ["image/png", "application/pdf"]
    sent = [c.body for c in fake_whatsapp.of("messages") if to(wa_id)(c)][1:]
    assert sent[0]["type"] == "image" and sent[0]["image"] == {"id": "up1"}
    assert sent[1]["type"] == "document"
    assert sent[1]["document"] == {"id": "up2", "filename": "invoice.pdf"}


async def test_after_24_hours_a_reply_goes_as_the_approved_template(
    start_gateway: Callable[..., Any], fake_whatsapp: FakeWhatsApp
) -> None:
    server = await start_gateway()
    wa_id = new_wa_id("34")  # a Spanish number
    conv = f"whatsapp:{wa_id}"
    saved = await customer_writes(server, fake_whatsapp, wa_id, "hola, necesito ayuda")
    assert "guardado" in _words(saved)  # in Spanish, as the number and the words say
    channel = server.app[WHATSAPP_CHANNEL]
    channel.clock = lambda: time.time() + 25 * 3600  # a day and an hour later
    answer = Outbound(
        text="Your refund is on its way.\n\nIt takes 3-5 days.",
        quick_replies=(QuickReply("Thanks", "/thanks"),),
        role="agent",
        sender_name="Maria",
    )
    await server.app[OUTBOX].send(conv, "whatsapp", answer)
    sent = fake_whatsapp.of("messages")[-1].body
    assert sent["type"] == "template" and sent["to"] == wa_id
    template = sent["template"]
    assert template["name"] == "frontdesk_reply" and template["language"] == {"code": "es"}
    [component] = template["components"]
    assert component["parameters"] == [
        {"type": "text", "text": "Maria: Your refund is on its way. It takes 3-5 days."}
    ]

    # Within the window by our clock, but Meta says it has closed: the template, not a loss.
    channel.clock = time.time
    fake_whatsapp.closed_windows.add(wa_id)
    await server.app[OUTBOX].send(conv, "whatsapp", Outbound(text="One more thing"))
    refused, resent = fake_whatsapp.of("messages")[-2:]
    assert refused.body["type"] == "text" and resent.body["type"] == "template"
    assert resent.body["template"]["components"][0]["parameters"][0]["text"] == "One more thing"


async def test_a_message_left_on_whatsapp_is_answered_on_whatsapp(
    start_gateway: Callable[..., Any], fake_whatsapp: FakeWhatsApp
) -> None:
    server = await start_gateway()  # no SMTP_URL: e-mail is not set up, and not needed
    wa_id = new_wa_id()
    conv = f"whatsapp:{wa_id}"
    await customer_writes(server, fake_whatsapp, wa_id)
    router = server.app[ROUTER]
    await router.handoff.request(await router.conversations.get(conv), "customer_asked")

    await fake_whatsapp.wait_for("messages", where=lambda c: offers_to_leave(wa_id, c))
    before = len([c for c in fake_whatsapp.of("messages") if to(wa_id)(c)])
    tap = {
        "type": "button_reply",
        "button_reply": {"id": "/fd_leave_message", "title": "Leave a message"},
    }
    assert (await post_body(server, body(message(wa_id, "interactive", tap))))[0] == 200
    ask = _words((await fake_whatsapp.wait_for("messages", before + 1, to(wa_id)))[-1])
    assert "What would you like us to know" in ask and "e-mail" not in ask
    left = "Order 1042 came without the laces. Can you send them?"
    assert (await post_body(server, body(text_message(wa_id, left))))[0] == 200
    done = (await fake_whatsapp.wait_for("messages", before + 2, to(wa_id)))[-1]
    assert "your message is saved" in done.body["text"]["body"]
    assert "reply here in this chat" in done.body["text"]["body"]

    items = await server.app[INBOX].items()
    [item] = [i for i in items if i["conversation_id"] == conv]
    assert item["message"] == left and item["email"] == ""
    desk = server.app[DESK]
    agent = f"maria{uuid.uuid4().hex[:6]}"
    await desk.agents.save(agent, {"display_name": "Maria"})
    await desk.claim(agent, item["case_id"])
    server.app[WHATSAPP_CHANNEL].clock = lambda: time.time() + 30 * 3600  # the next day
    answered = await server.app[INBOX].answer(agent, item["case_id"], "We'll post the laces today.")
    assert answered["via"] == "whatsapp" and answered["mail"] is None
    sent = fake_whatsapp.of("messages")[-1].body
    assert sent["to"] == wa_id and sent["type"] == "template"
    parameter = sent["template"]["components"][0]["parameters"][0]["text"]
    assert parameter == "Maria: We'll post the laces today."
    case = await desk.cases.get(item["case_id"])
    assert case["state"] == "closed" and case["answered_via"] == "whatsapp"
    assert all(i["case_id"] != item["case_id"] for i in await server.app[INBOX].items())
    history = await server.app[STORE].history(conv)
    assert history[-1]["role"] == "agent" and history[-1]["text"] == "We'll post the laces today."


@pytest.mark.rasa
async def test_a_question_on_whatsapp_gets_the_bots_answer_and_a_tap_its_payload(
    start_gateway: Callable[..., Any], fake_whatsapp: FakeWhatsApp, rasa_url: str
) -> None:
    server = await start_gateway(rasa_url)
    wa_id = new_wa_id()
    assert (await post_body(server, body(text_message(wa_id, "How can I track my parcel?"))))[
        0
    ] == 200
    await fake_whatsapp.wait_for(
        "messages",
        where=lambda c: to(wa_id)(c) and area_of(_words(c)) == "shipping",
        timeout=90,
    )
    # A tapped "Talk to a person" sends the bot its payload: with nobody online, the customer
    # is told so and offered to leave a message, as buttons.
    tap = {
        "type": "button_reply",
        "button_reply": {"id": "/human_handoff", "title": "Talk to a person"},
    }
    earlier = {id(c) for c in fake_whatsapp.calls}
    assert (await post_body(server, body(message(wa_id, "interactive", tap))))[0] == 200
    await fake_whatsapp.wait_for(
        "messages",
        where=lambda c: id(c) not in earlier and offers_to_leave(wa_id, c),
        timeout=90,
    )
    history = await server.app[STORE].history(f"whatsapp:{wa_id}")
    customer = [(e["text"], e.get("payload")) for e in history if e["role"] == "customer"]
    assert customer[-1] == ("Talk to a person", "/human_handoff")


def offers_to_leave(wa_id: str, call: Call) -> bool:
    """A message to the customer with a "Leave a message" button."""
    buttons = call.body.get("interactive", {}).get("action", {}).get("buttons", [])
    return to(wa_id)(call) and "/fd_leave_message" in [b["reply"]["id"] for b in buttons]


def _words(call: Call) -> str:
    if call.body.get("type") == "text":
        return str(call.body["text"]["body"])
    if call.body.get("type") == "interactive":
        return str(call.body["interactive"]["body"]["text"])
    return ""


def test_whatsapp_settings_and_flows_are_checked_with_clear_errors(tmp_path: Path) -> None:
    full = {
        "WHATSAPP_TOKEN": TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
    }
    base = {"FLOWS_DIR": str(flows_copy(tmp_path)), "DATA_DIR": str(tmp_path)}
    settings = load_settings({**base, **full})
    assert settings.whatsapp_enabled
    assert settings.whatsapp_api_url == "https://graph.facebook.com/v25.0"
    assert not load_settings(base).whatsapp_enabled
    partial = {k: v for k, v in full.items() if k != "WHATSAPP_APP_SECRET"}
    with pytest.raises(ConfigError, match="missing WHATSAPP_APP_SECRET"):
        load_settings({**base, **partial})
    with pytest.raises(ConfigError, match="WHATSAPP_PHONE_NUMBER_ID must be the number's id"):
        load_settings({**base, **full, "WHATSAPP_PHONE_NUMBER_ID": "+34 600 111 222"})
    with pytest.raises(ConfigError, match="WHATSAPP_API_URL must be a URL"):
        load_settings({**base, **full, "WHATSAPP_API_URL": "graph.facebook.com/v25.0"})
    assert APP_SECRET not in repr(settings) and TOKEN not in repr(settings)

    flows = tmp_path / "flows" / "whatsapp.yml"
    good = flows.read_text()
    flows.write_text(good.replace("name: frontdesk_reply", "name: Frontdesk Reply!"))
    with pytest.raises(ConfigError, match=r"whatsapp.yml: reply_template.name must be"):
        make_app(settings)
    flows.write_text(good.replace("en: See options", "en: See all of our options, please"))
    with pytest.raises(ConfigError, match=r"list_button.en must be at most 20 characters"):
        make_app(settings)
    flows.unlink()
    with pytest.raises(ConfigError, match=r"whatsapp.yml is needed for WhatsApp"):
        make_app(settings)
