"""Photos and files on Telegram and Messenger, against the real gateway, real Redis, a
scripted bot and fake platform APIs on loopback: a customer's photo is downloaded (getFile and
the file URL; the attachment URL of a Messenger webhook), kept and shown on the case card; an
agent's file goes out with sendDocument / sendPhoto."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from frontdesk.app import ROUTER, STORE, make_app
from frontdesk.console.keys import DESK
from frontdesk.files.web import FILES
from tests.conftest import make_settings
from tests.fake_apis import FakeGraph, FakeTelegram
from tests.fake_rasa import FakeRasa, Turn
from tests.files_support import PDF, png
from tests.test_messenger import (
    APP_SECRET,
    PAGE_TOKEN,
    VERIFY_TOKEN,
    messaging,
    new_mid,
    new_psid,
    page_body,
    post_body,
)
from tests.test_telegram import HEADER, SECRET, TOKEN, message_update, new_id, to_chat

HANDOFF = Turn("human_handoff", 0.97, texts=(), control={"event": "handoff"})


async def _telegram_update(server: TestServer, update: dict[str, Any]) -> int:
    headers = {"Content-Type": "application/json", HEADER: SECRET}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.make_url("/channels/telegram"), data=json.dumps(update), headers=headers
        ) as resp,
    ):
        return resp.status


async def test_a_telegram_photo_reaches_the_card_and_an_agents_file_reaches_the_customer(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> None:
    fake, rasa_url = fake_rasa
    fake.script["human_handoff"] = HANDOFF  # Telegram sends /human_handoff as plain words
    telegram = FakeTelegram(TOKEN)
    api = await aiohttp_server(telegram.app)
    telegram.url = str(api.make_url("")).rstrip("/")
    env = {
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_SECRET_TOKEN": SECRET,
        "TELEGRAM_API_URL": telegram.url,
    }
    server: TestServer = await aiohttp_server(
        make_app(make_settings(redis_url, rasa_url, tmp_path, **env))
    )
    chat_id = new_id()
    photo = png(4, 3)
    telegram.add_file("big-photo", photo, "photos/file_7.jpg")
    sizes = [
        {"file_id": "thumb", "file_unique_id": "t", "width": 1, "height": 1, "file_size": 10},
        {"file_id": "big-photo", "file_unique_id": "b", "width": 4, "height": 3},
    ]
    update = message_update(chat_id, photo=sizes, caption="the box was crushed")
    assert await _telegram_update(server, update) == 200
    kept, answer = await telegram.wait_for("sendMessage", 2, where=to_chat(chat_id))
    assert "kept your photo" in kept.body["text"]
    # The bot cannot look at the photo but reads its caption, and answers it.
    assert [body["message"] for body in fake.received] == ["the box was crushed"]
    assert answer.body["text"] == "Could you rephrase that?"
    [get_file] = telegram.of("getFile")
    assert get_file.body["file_id"] == "big-photo"  # the largest size

    assert await _telegram_update(server, message_update(chat_id, text="/human_handoff")) == 200
    await telegram.wait_for("sendMessage", 4, where=to_chat(chat_id))  # confirm + place in line
    await server.app[ROUTER].idle()  # the turn is over: the case is queued
    conversation = f"telegram:{chat_id}"
    store = server.app[STORE]
    case_id = (await store.get_conversation(conversation))["case_id"]
    desk = server.app[DESK]
    card = (await desk.case_view("", case_id))["card"]
    [on_card] = card["attachments"]
    assert on_card["type"] == "image/png" and on_card["size"] == len(photo)  # from the bytes
    assert on_card["url"].startswith("/files/")

    agent = f"maria{uuid.uuid4().hex[:6]}"
    await desk.agents.save(agent, {"display_name": "Maria"})
    await desk.claim(agent, case_id)
    invoice = await server.app[FILES].save(PDF, "invoice.pdf", f"agent:{agent}")
    await desk.reply(agent, case_id, "Here is your invoice", invoice.id)
    [sent] = await telegram.wait_for("sendDocument", where=to_chat(chat_id))
    assert sent.body["document"]["filename"] == "invoice.pdf"
    assert sent.body["document"]["bytes"] == PDF
    picture = await server.app[FILES].save(png(), "label.png", f"agent:{agent}")
    await desk.reply(agent, case_id, "", picture.id)
    [sent_photo] = await telegram.wait_for("sendPhoto", where=to_chat(chat_id))
    assert sent_photo.body["photo"]["bytes"] == png()


async def test_a_messenger_image_reaches_the_card_and_an_agents_photo_goes_by_link(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> None:
    fake, rasa_url = fake_rasa
    fake.script["/human_handoff"] = HANDOFF
    graph = FakeGraph(PAGE_TOKEN)
    api = await aiohttp_server(graph.app)
    graph.url = str(api.make_url(f"/{graph.version}")).rstrip("/")
    env = {
        "MESSENGER_PAGE_TOKEN": PAGE_TOKEN,
        "MESSENGER_APP_SECRET": APP_SECRET,
        "MESSENGER_VERIFY_TOKEN": VERIFY_TOKEN,
        "MESSENGER_API_URL": graph.url,
        "PUBLIC_URL": "https://help.shop.example",
    }
    server: TestServer = await aiohttp_server(
        make_app(make_settings(redis_url, rasa_url, tmp_path, **env))
    )
    psid = new_psid()
    photo = png(3, 3)
    graph.cdn["damage.jpg"] = photo
    image_url = str(api.make_url("/cdn/damage.jpg"))
    image = {"type": "image", "payload": {"url": image_url}}
    message = {"mid": new_mid(), "attachments": [image]}
    assert (await post_body(server, page_body(messaging(psid, message=message))))[0] == 200

    def to_psid(call: Any) -> bool:
        return bool(call.body.get("recipient", {}).get("id") == psid and "message" in call.body)

    [kept] = await graph.wait_for("messages", where=to_psid)
    assert "kept your photo" in kept.body["message"]["text"]
    postback = {"title": "Talk to a person", "payload": "/human_handoff", "mid": new_mid()}
    assert (await post_body(server, page_body(messaging(psid, postback=postback))))[0] == 200
    await graph.wait_for("messages", 3, where=to_psid)
    await server.app[ROUTER].idle()
    store = server.app[STORE]
    case_id = (await store.get_conversation(f"messenger:{psid}"))["case_id"]
    desk = server.app[DESK]
    [on_card] = (await desk.case_view("", case_id))["card"]["attachments"]
    assert on_card["type"] == "image/png" and on_card["size"] == len(photo)

    agent = f"li{uuid.uuid4().hex[:6]}"
    await desk.agents.save(agent, {"display_name": "Li"})
    await desk.claim(agent, case_id)
    picture = await server.app[FILES].save(png(), "label.png", f"agent:{agent}")
    await desk.reply(agent, case_id, "", picture.id)
    sent = await graph.wait_for(
        "messages", where=lambda c: to_psid(c) and "attachment" in c.body["message"]
    )
    url = sent[0].body["message"]["attachment"]["payload"]["url"]
    assert url.startswith(f"https://help.shop.example/files/{picture.id}?exp=")
