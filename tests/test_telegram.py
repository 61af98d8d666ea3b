"""The Telegram channel against the real gateway, real Redis and a fake Bot API on loopback.

Update payloads are shaped as https://core.telegram.org/bots/api#update documents them."""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

import server as entrypoint
from frontdesk.app import OUTBOX, STORE, make_app
from frontdesk.config import load_settings
from frontdesk.core.messages import Outbound, QuickReply
from frontdesk.errors import ConfigError
from tests.bot_answers import area_of, response_of
from tests.conftest import free_port, make_settings
from tests.fake_apis import FakeTelegram
from tests.support import refuse_to_store_once

TOKEN = "123456789:AAH-test_token-for-the-fake-bot-api"
SECRET = "s3cret-Token_for-tests"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
_ids = itertools.count(uuid.uuid4().int % 10**9)  # Redis is shared: ids unique per run


def new_id() -> int:
    return next(_ids)


def user(user_id: int, language: str = "en") -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": "Jane",
        "last_name": "Smith",
        "username": "janesmith",
        "language_code": language,
    }


def chat(chat_id: int) -> dict[str, Any]:
    return {
        "id": chat_id,
        "first_name": "Jane",
        "last_name": "Smith",
        "username": "janesmith",
        "type": "private",
    }


def message_update(chat_id: int, language: str = "en", **content: Any) -> dict[str, Any]:
    message = {
        "message_id": new_id(),
        "from": user(chat_id, language),
        "chat": chat(chat_id),
        "date": 1746268800,
        **content,
    }
    return {"update_id": new_id(), "message": message}


def text_update(chat_id: int, text: str, language: str = "en") -> dict[str, Any]:
    return message_update(chat_id, language, text=text)


@pytest.fixture
async def fake_telegram(aiohttp_server: Callable[..., Any]) -> FakeTelegram:
    fake = FakeTelegram(TOKEN)
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
def start_gateway(
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    fake_telegram: FakeTelegram,
) -> Callable[..., Any]:
    async def start(rasa_url: str | None = None, **env: str) -> TestServer:
        rasa = rasa_url or f"http://127.0.0.1:{free_port()}"  # default: Rasa down
        channel = {
            "TELEGRAM_TOKEN": TOKEN,
            "TELEGRAM_SECRET_TOKEN": SECRET,
            "TELEGRAM_API_URL": fake_telegram.url,
        }
        settings = make_settings(redis_url, rasa, tmp_path, **{**channel, **env})
        server: TestServer = await aiohttp_server(make_app(settings))
        return server

    return start


async def post_update(
    server: TestServer, update: Any, secret: str | None = SECRET, raw: bytes | None = None
) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[HEADER] = secret
    data = raw if raw is not None else json.dumps(update).encode()
    async with (
        ClientSession() as http,
        http.post(server.make_url("/channels/telegram"), data=data, headers=headers) as r,
    ):
        return r.status, await r.text()


def to_chat(chat_id: int) -> Callable[[Any], bool]:
    return lambda call: str(call.body.get("chat_id")) == str(chat_id)


async def test_forged_secret_token_and_bad_bodies_are_refused(
    start_gateway: Callable[..., Any], fake_telegram: FakeTelegram
) -> None:
    server = await start_gateway()
    chat_id = new_id()
    update = text_update(chat_id, "Where is my order?")
    assert (await post_update(server, update, secret="not-the-secret"))[0] == 403
    assert (await post_update(server, update, secret=None))[0] == 403
    assert (await post_update(server, update, secret=SECRET[:-1]))[0] == 403
    assert (await post_update(server, None, raw=b"{not json"))[0] == 400
    assert (await post_update(server, None, raw=b"[" * 200_000 + b"]" * 200_000))[0] == 400
    assert (await post_update(server, {"message": update["message"]}))[0] == 400
    store = server.app[STORE]
    assert await store.get_conversation(f"telegram:{chat_id}") == {}
    assert await store.history(f"telegram:{chat_id}") == []
    assert fake_telegram.calls == []


async def test_a_message_is_stored_and_answered_in_the_customers_language(
    start_gateway: Callable[..., Any], fake_telegram: FakeTelegram
) -> None:
    server = await start_gateway()  # Rasa is down: the honest "bot unavailable" reply
    chat_id = new_id()
    status, _ = await post_update(server, text_update(chat_id, "¿Dónde está mi pedido?", "es"))
    assert status == 200
    [reply] = await fake_telegram.wait_for("sendMessage", where=to_chat(chat_id))
    assert "tu mensaje está guardado" in reply.body["text"]
    store = server.app[STORE]
    meta = await store.get_conversation(f"telegram:{chat_id}")
    assert meta["channel"] == "telegram" and meta["language"] == "es"
    assert meta["customer_name"] == "Jane Smith" and meta["channel_user"] == "@janesmith"
    history = await store.history(f"telegram:{chat_id}")
    assert [(e["role"], e["text"]) for e in history] == [
        ("customer", "¿Dónde está mi pedido?"),
        ("system", reply.body["text"]),
    ]


async def test_a_duplicated_update_is_processed_once(
    start_gateway: Callable[..., Any], fake_telegram: FakeTelegram
) -> None:
    server = await start_gateway()
    chat_id = new_id()
    update = text_update(chat_id, "Hello?")
    assert (await post_update(server, update))[0] == 200
    assert (await post_update(server, update))[0] == 200  # Telegram retried delivery
    assert (await post_update(server, text_update(chat_id, "Anyone there?")))[0] == 200
    # Turns of one conversation run in order: once the second reply is out, a reply to the
    # duplicate would have been sent before it.
    await fake_telegram.wait_for("sendMessage", 2, to_chat(chat_id))
    assert len([c for c in fake_telegram.of("sendMessage") if to_chat(chat_id)(c)]) == 2
    history = await server.app[STORE].history(f"telegram:{chat_id}")
    assert [e["text"] for e in history if e["role"] == "customer"] == ["Hello?", "Anyone there?"]


async def test_an_update_that_could_not_be_stored_is_refused_and_taken_on_the_retry(
    start_gateway: Callable[..., Any],
    fake_telegram: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = await start_gateway()
    store = server.app[STORE]
    chat_id = new_id()
    update = text_update(chat_id, "Where is my order?")
    refuse_to_store_once(monkeypatch, server.app, f"tg-msg:{update['message']['message_id']}")
    assert (await post_update(server, update))[0] == 503  # so Telegram delivers it again
    assert await store.history(f"telegram:{chat_id}") == []
    assert (await post_update(server, update))[0] == 200  # Telegram's retry
    [reply] = await fake_telegram.wait_for("sendMessage", where=to_chat(chat_id))
    assert "your message is saved" in reply.body["text"]
    assert (await post_update(server, update))[0] == 200  # one more repeat changes nothing
    assert (await post_update(server, text_update(chat_id, "Anyone there?")))[0] == 200
    # Turns run in order: once the reply to "Anyone there?" is out, any other would be too.
    await fake_telegram.wait_for("sendMessage", 2, to_chat(chat_id))
    assert len([c for c in fake_telegram.of("sendMessage") if to_chat(chat_id)(c)]) == 2
    history = await store.history(f"telegram:{chat_id}")
    customer = [e["text"] for e in history if e["role"] == "customer"]
    assert customer == ["Where is my order?", "Anyone there?"]


async def test_polling_fetches_an_update_again_until_it_is_stored(
    start_gateway: Callable[..., Any],
    fake_telegram: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = await start_gateway(TELEGRAM_MODE="polling", TELEGRAM_SECRET_TOKEN="")
    store = server.app[STORE]
    chat_id = new_id()
    update = text_update(chat_id, "Is anyone there?")
    refuse_to_store_once(monkeypatch, server.app, f"tg-msg:{update['message']['message_id']}")
    await fake_telegram.queue_update(update)
    [reply] = await fake_telegram.wait_for("sendMessage", where=to_chat(chat_id))
    assert "your message is saved" in reply.body["text"]
    history = await store.history(f"telegram:{chat_id}")
    assert [e["text"] for e in history if e["role"] == "customer"] == ["Is anyone there?"]


async def test_an_expired_button_is_kept_and_answered_once(
    start_gateway: Callable[..., Any], fake_telegram: FakeTelegram
) -> None:
    server = await start_gateway()
    chat_id = new_id()
    markup = {"inline_keyboard": [[{"text": "Not quite", "callback_data": "fdq:0123abcd"}]]}
    bot_message = {
        "message_id": new_id(),
        "from": {"id": 42, "is_bot": True, "first_name": "Shop", "username": "shop_bot"},
        "chat": chat(chat_id),
        "date": 1746268800,
        "text": "Did that answer your question?",
        "reply_markup": markup,
    }
    press = {
        "update_id": new_id(),
        "callback_query": {
            "id": "4382bfdwdsf43" + str(new_id()),
            "from": user(chat_id),
            "message": bot_message,
            "chat_instance": "-76543210987654321",
            "data": "fdq:0123abcd",  # a long payload's short id that has expired
        },
    }
    assert (await post_update(server, press))[0] == 200
    assert (await post_update(server, press))[0] == 200  # Telegram delivered it twice
    replies = [c.body["text"] for c in fake_telegram.of("sendMessage") if to_chat(chat_id)(c)]
    assert len(replies) == 1 and "no longer available" in replies[0]
    history = await server.app[STORE].history(f"telegram:{chat_id}")
    assert [(e["role"], e["text"]) for e in history] == [
        ("customer", "Not quite"),
        ("system", replies[0]),
    ]


async def test_quick_replies_become_an_inline_keyboard_and_a_press_is_acknowledged(
    start_gateway: Callable[..., Any], fake_telegram: FakeTelegram
) -> None:
    server = await start_gateway()
    chat_id = new_id()
    conversation = f"telegram:{chat_id}"
    long_payload = '/choose{"option": "' + "x" * 80 + '"}'
    message = Outbound(
        text="Did that answer your question?",
        quick_replies=(QuickReply("Yes, thanks", "/affirm"), QuickReply("Not quite", long_payload)),
    )
    await server.app[OUTBOX].send(conversation, "telegram", message)
    [sent] = await fake_telegram.wait_for("sendMessage", where=to_chat(chat_id))
    rows = sent.body["reply_markup"]["inline_keyboard"]
    buttons = [button for row in rows for button in row]
    assert [b["text"] for b in buttons] == ["Yes, thanks", "Not quite"]
    assert buttons[0]["callback_data"] == "/affirm"
    assert buttons[1]["callback_data"] != long_payload
    assert 1 <= len(buttons[1]["callback_data"].encode()) <= 64

    bot_message = {
        "message_id": new_id(),
        "from": {"id": 42, "is_bot": True, "first_name": "Shop", "username": "shop_bot"},
        "chat": chat(chat_id),
        "date": 1746268800,
        "text": sent.body["text"],
        "reply_markup": sent.body["reply_markup"],
    }
    press = {
        "update_id": new_id(),
        "callback_query": {
            "id": "4382bfdwdsf43" + str(new_id()),
            "from": user(chat_id),
            "message": bot_message,
            "chat_instance": "-76543210987654321",
            "data": buttons[1]["callback_data"],
        },
    }
    assert (await post_update(server, press))[0] == 200
    [answered] = await fake_telegram.wait_for("answerCallbackQuery")
    assert answered.body["callback_query_id"] == press["callback_query"]["id"]
    await fake_telegram.wait_for("sendMessage", 2, to_chat(chat_id))  # the turn has run
    history = await server.app[STORE].history(conversation)
    pressed = [e for e in history if e["role"] == "customer"]
    assert [(e["text"], e.get("payload")) for e in pressed] == [("Not quite", long_payload)]


async def test_stickers_photos_and_edits_are_kept_and_answered_politely(
    start_gateway: Callable[..., Any], fake_telegram: FakeTelegram
) -> None:
    server = await start_gateway()
    chat_id = new_id()
    sticker = {
        "width": 512,
        "height": 512,
        "emoji": "😀",
        "set_name": "HappyFaces",
        "is_animated": False,
        "is_video": False,
        "type": "regular",
        "file_id": "CAACAgIAAxkBAAIBZ2Z",
        "file_unique_id": "AgADZ2Z",
        "file_size": 23456,
    }
    photo = [
        {
            "file_id": "AgACAgIAAxkBAAIBa",
            "file_unique_id": "AQADa",
            "file_size": 1234,
            "width": 90,
            "height": 67,
        },
        {
            "file_id": "AgACAgIAAxkBAAIBb",
            "file_unique_id": "AQADb",
            "file_size": 56789,
            "width": 800,
            "height": 600,
        },
    ]
    edited = text_update(chat_id, "My order is #1042")
    edited["edited_message"] = {**edited.pop("message"), "edit_date": 1746268900}
    for update in (
        message_update(chat_id, sticker=sticker),
        message_update(chat_id, photo=photo, caption="the box arrived like this"),
        edited,
    ):
        sent = len(fake_telegram.of("sendMessage"))
        assert (await post_update(server, update))[0] == 200
        await fake_telegram.wait_for("sendMessage", sent + 1)
    replies = [c.body["text"] for c in fake_telegram.of("sendMessage") if to_chat(chat_id)(c)]
    assert "I can only read text for now" in replies[0]
    # A photo is fetched (getFile): this one is not on the (fake) Bot API, so it is kept as
    # text with an honest word (tests/test_platform_files.py has one that arrives).
    assert "couldn't receive that file" in replies[1]
    assert "send the corrected text as a new message" in replies[2]
    history = await server.app[STORE].history(f"telegram:{chat_id}")
    assert [e["text"] for e in history if e["role"] == "customer"] == [
        "[sticker 😀]",
        "[photo] the box arrived like this",
        "[edited message] My order is #1042",
    ]


async def test_429_is_retried_after_the_delay_telegram_asks_for(
    start_gateway: Callable[..., Any], fake_telegram: FakeTelegram
) -> None:
    server = await start_gateway()
    chat_id = new_id()
    fake_telegram.fail_next("sendMessage", 429, retry_after=1)
    await server.app[OUTBOX].send(f"telegram:{chat_id}", "telegram", Outbound(text="Hi there"))
    first, second = fake_telegram.of("sendMessage")
    assert first.body == second.body == {"chat_id": str(chat_id), "text": "Hi there"}
    assert second.at - first.at >= 0.95


async def test_5xx_is_retried_and_a_final_failure_is_logged_with_the_message_kept(
    start_gateway: Callable[..., Any],
    fake_telegram: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await start_gateway(CHANNEL_API_ATTEMPTS="3")
    conversation = f"telegram:{new_id()}"
    outbox = server.app[OUTBOX]
    fake_telegram.fail_next("sendMessage", 502)
    await outbox.send(conversation, "telegram", Outbound(text="first"))
    assert [c.body["text"] for c in fake_telegram.of("sendMessage")] == ["first", "first"]

    for _ in range(3):
        fake_telegram.fail_next("sendMessage", 503)
    with caplog.at_level(logging.ERROR):
        entry = await outbox.send(conversation, "telegram", Outbound(text="second"))
    assert len(fake_telegram.of("sendMessage")) == 5
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("not delivered" in r.getMessage() for r in failures)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    history = await server.app[STORE].history(conversation)
    assert [e["text"] for e in history] == ["first", "second"]
    assert history[-1]["seq"] == entry["seq"]


async def test_a_long_message_is_split_at_word_breaks(
    start_gateway: Callable[..., Any], fake_telegram: FakeTelegram
) -> None:
    server = await start_gateway()
    chat_id = new_id()
    text = " ".join(f"word{i}" for i in range(1500))  # 12,389 characters: four parts
    await server.app[OUTBOX].send(f"telegram:{chat_id}", "telegram", Outbound(text=text))
    parts = [c.body["text"] for c in fake_telegram.of("sendMessage")]
    assert len(parts) == 4
    assert all(4080 <= len(p) <= 4096 for p in parts[:-1])
    assert " ".join(parts) == text


async def test_polling_mode_fetches_updates_and_answers(
    start_gateway: Callable[..., Any], fake_telegram: FakeTelegram
) -> None:
    server = await start_gateway(TELEGRAM_MODE="polling", TELEGRAM_SECRET_TOKEN="")
    url = server.make_url("/channels/telegram")  # no webhook route without a secret token
    async with ClientSession() as http, http.post(url, json={}) as resp:
        assert resp.status == 404
    chat_id = new_id()
    update = text_update(chat_id, "Is anyone there?")
    await fake_telegram.queue_update(update)
    [reply] = await fake_telegram.wait_for("sendMessage", where=to_chat(chat_id))
    assert "your message is saved" in reply.body["text"]
    next_offset = update["update_id"] + 1
    await fake_telegram.wait_for("getUpdates", where=lambda c: c.body.get("offset") == next_offset)


async def test_set_webhook_registers_the_url_with_the_secret_token(
    fake_telegram: FakeTelegram, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        redis_url,
        "http://127.0.0.1:1",
        tmp_path,
        TELEGRAM_TOKEN=TOKEN,
        TELEGRAM_SECRET_TOKEN=SECRET,
        TELEGRAM_API_URL=fake_telegram.url,
    )
    url = "https://shop.example.org/channels/telegram"
    said = await entrypoint.telegram_webhook(settings, "set-webhook", url)
    assert url in said
    [call] = fake_telegram.of("setWebhook")
    assert call.body["url"] == url and call.body["secret_token"] == SECRET
    assert set(call.body["allowed_updates"]) >= {"message", "callback_query"}


def test_settings_come_from_credentials_yml_with_the_environment_winning(
    tmp_path: Path,
) -> None:
    credentials = tmp_path / "credentials.yml"
    credentials.write_text(
        "rest:\n"
        "telegram:\n"
        f'  access_token: "{TOKEN}"\n'
        '  verify: "shop_bot"\n'
        '  webhook_url: "https://shop.example.org/channels/telegram"\n'
        f'  secret_token: "{SECRET}"\n'
        "facebook:\n"
        '  verify: "verify-me"\n'
        '  secret: "file-app-secret"\n'
        '  page-access-token: "file-page-token"\n'
    )
    env = {"CREDENTIALS_FILE": str(credentials), "MESSENGER_APP_SECRET": "env-app-secret"}
    settings = load_settings(env)
    assert settings.telegram_token == TOKEN and settings.telegram_secret_token == SECRET
    assert settings.telegram_bot_name == "shop_bot"
    assert settings.telegram_webhook_url == "https://shop.example.org/channels/telegram"
    assert settings.messenger_verify_token == "verify-me"
    assert settings.messenger_page_token == "file-page-token"
    assert settings.messenger_app_secret == "env-app-secret"
    shown = repr(settings)
    for secret in (TOKEN, SECRET, "verify-me", "file-page-token", "env-app-secret"):
        assert secret not in shown

    with pytest.raises(ConfigError, match="TELEGRAM_SECRET_TOKEN is required"):
        load_settings({"TELEGRAM_TOKEN": TOKEN})
    with pytest.raises(ConfigError, match="TELEGRAM_MODE"):
        load_settings({"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_MODE": "push"})
    with pytest.raises(ConfigError, match="MESSENGER_APP_SECRET"):
        load_settings({"MESSENGER_PAGE_TOKEN": "x", "MESSENGER_VERIFY_TOKEN": "y"})
    assert load_settings({"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_MODE": "polling"}).telegram_enabled


@pytest.mark.rasa
async def test_a_question_on_telegram_gets_the_bots_answer(
    start_gateway: Callable[..., Any], fake_telegram: FakeTelegram, rasa_url: str
) -> None:
    server = await start_gateway(rasa_url)
    chat_id = new_id()

    async def ask(text: str, answered: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        assert (await post_update(server, text_update(chat_id, text)))[0] == 200
        [call] = await fake_telegram.wait_for(
            "sendMessage", where=lambda c: to_chat(chat_id)(c) and answered(c.body), timeout=90
        )
        return call.body

    await ask("/start", lambda m: response_of(m["text"]) == "utter_greet")
    await ask("How can I track my parcel?", lambda m: area_of(m["text"]) == "shipping")
    await ask("I want to return my shoes", lambda m: area_of(m["text"]) == "returns")
    with_buttons = await ask("I want to return my shoes", lambda m: "reply_markup" in m)
    buttons = [b for row in with_buttons["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons and all(b["text"] and b["callback_data"] for b in buttons)


@pytest.mark.rasa
async def test_a_handoff_from_telegram_reaches_an_agent_and_the_reply_goes_back(
    start_gateway: Callable[..., Any], fake_telegram: FakeTelegram, rasa_url: str
) -> None:
    from frontdesk.console.auth import hash_password, socket_token
    from frontdesk.console.keys import DESK
    from frontdesk.console.keys import SECRET as CONSOLE_SECRET
    from tests.support import AgentClient

    server = await start_gateway(rasa_url)
    chat_id = new_id()
    agent_name = f"tg{chat_id}"
    await server.app[DESK].agents.save(
        agent_name, {"display_name": "Maria", "password_hash": hash_password("secret-pass")}
    )
    agent = AgentClient(
        str(server.make_url("/")).rstrip("/"), socket_token(server.app[CONSOLE_SECRET], agent_name)
    )
    await agent.connect()
    try:
        assert (await post_update(server, text_update(chat_id, "can I talk to a human?")))[0] == 200
        # The queue status arrives as text, with the cancel option as an inline button.
        [waiting] = await fake_telegram.wait_for(
            "sendMessage",
            where=lambda c: to_chat(chat_id)(c) and "in line" in c.body["text"],
            timeout=90,
        )
        assert "reply_markup" in waiting.body
        queue = await agent.until(
            "queue",
            lambda q: any(i["conversation_id"] == f"telegram:{chat_id}" for i in q["items"]),
        )
        item = next(i for i in queue["items"] if i["conversation_id"] == f"telegram:{chat_id}")
        assert item["channel"] == "telegram"
        claimed = await agent.call("claim", {"case_id": item["case_id"]})
        card = claimed["case"]["card"]
        assert card["channel"] == "telegram" and card["channel_user"] == "@janesmith"

        reply = await agent.call(
            "reply", {"case_id": item["case_id"], "text": "Hi Jane, Maria here."}
        )
        assert reply["ok"]
        [sent] = await fake_telegram.wait_for(
            "sendMessage", where=lambda c: to_chat(chat_id)(c) and "Maria here" in c.body["text"]
        )
        assert sent.body["text"].startswith("Maria:")

        assert (await agent.call("close", {"case_id": item["case_id"]}))["ok"]
        [survey] = await fake_telegram.wait_for(
            "sendMessage", where=lambda c: to_chat(chat_id)(c) and "satisfied" in c.body["text"]
        )
        scores = [b["text"] for row in survey.body["reply_markup"]["inline_keyboard"] for b in row]
        assert scores == ["1", "2", "3", "4", "5"]
    finally:
        await agent.close()
