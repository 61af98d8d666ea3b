"""Photos and files from the website widget, with real Redis and a scripted bot: kept for a
person (never sent to the bot), on the case card, served only through signed, expiring links;
refused files get a clear error and lose nothing else. And the optional pre-chat form."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from frontdesk.app import STORE, make_app
from frontdesk.console.keys import DESK
from frontdesk.files.web import FILE_LINKS
from tests.conftest import flows_copy, make_settings
from tests.fake_rasa import FakeRasa, Turn
from tests.files_support import EXE, PDF, fetch, png, upload
from tests.support import WidgetClient

HANDOFF = Turn("human_handoff", 0.97, texts=(), control={"event": "handoff"})


async def _gateway(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    **env: str,
) -> tuple[FakeRasa, TestServer]:
    fake, url = fake_rasa
    fake.script["/human_handoff"] = HANDOFF
    fake.script["hello"] = Turn("greet", texts=("Hi! How can I help?",))
    server: TestServer = await aiohttp_server(
        make_app(make_settings(redis_url, url, tmp_path, **env))
    )
    return fake, server


async def _customer(server: TestServer) -> WidgetClient:
    client = WidgetClient(str(server.make_url("/")).rstrip("/"), token="")
    await client.connect()
    return client


async def test_a_photo_is_kept_for_a_person_on_the_card_and_served_only_signed(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> None:
    fake, server = await _gateway(fake_rasa, redis_url, tmp_path, aiohttp_server)
    customer = await _customer(server)
    photo = png()
    status, body = await upload(server, customer.session_id, customer.token, "damage.png", photo)
    assert status == 200 and body["ok"]
    attachment = body["attachment"]
    assert (attachment["name"], attachment["type"], attachment["size"]) == (
        "damage.png",
        "image/png",
        len(photo),
    )
    ack = await customer.say("", attachment_id=attachment["id"])
    assert ack["ok"]
    reply = await customer.until_message(lambda m: m.get("seq", 0) > ack["seq"])
    assert "kept your photo" in reply["text"] and "person" in reply["text"]
    assert reply["quick_replies"][0]["payload"] == "/human_handoff"
    assert fake.received == []  # the bot was not sent the photo (nor asked about it)
    store = server.app[STORE]
    [entry] = [e for e in await store.history(customer.session_id) if e["role"] == "customer"]
    assert entry["attachment"] == {k: attachment[k] for k in ("id", "name", "type", "size")}

    await customer.say("/human_handoff")  # the button under that answer
    await customer.answer()  # the end of that turn: the case is queued
    case_id = (await store.get_conversation(customer.session_id))["case_id"]
    card = (await server.app[DESK].case_view("", case_id))["card"]
    [on_card] = card["attachments"]
    assert on_card["id"] == attachment["id"] and on_card["url"].startswith("/files/")

    status, data, headers = await fetch(server, on_card["url"])
    assert status == 200 and data == photo
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"].startswith("inline")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]
    tampered = on_card["url"][:-1] + ("A" if on_card["url"][-1] != "A" else "B")
    expired = server.app[FILE_LINKS].path(attachment["id"], ttl=-5)
    unsigned = f"/files/{attachment['id']}"
    for bad in (tampered, expired, unsigned, on_card["url"].replace("exp=", "exp=1")):
        assert (await fetch(server, bad))[0] == 403
    await customer.close()


async def test_the_bot_answers_a_photos_caption(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> None:
    fake, server = await _gateway(fake_rasa, redis_url, tmp_path, aiohttp_server)
    customer = await _customer(server)
    status, body = await upload(server, customer.session_id, customer.token, "box.png", png())
    assert status == 200 and body["ok"]
    ack = await customer.say("the box arrived crushed", attachment_id=body["attachment"]["id"])
    assert ack["ok"]
    kept = await customer.until_message(lambda m: m.get("seq", 0) > ack["seq"])
    assert "kept your photo" in kept["text"]
    answer = await customer.until_message(lambda m: m.get("seq", 0) > kept["seq"])
    assert answer["text"] == "Could you rephrase that?"  # the fake bot's answer to the caption
    assert [body["message"] for body in fake.received] == ["the box arrived crushed"]
    await customer.close()


async def test_refused_files_get_a_clear_error_and_nothing_else_is_lost(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> None:
    _, server = await _gateway(
        fake_rasa, redis_url, tmp_path, aiohttp_server, ATTACHMENT_MAX_BYTES="4000"
    )
    customer = await _customer(server)
    sid, token = customer.session_id, customer.token
    status, body = await upload(server, sid, token, "photo.png", EXE)  # an .exe renamed .png
    assert status == 415 and body["error"]["code"] == "file_type"
    assert "PNG" in body["error"]["message"] and "PDF" in body["error"]["message"]
    status, body = await upload(server, sid, token, "big.png", png(extra=20_000))
    assert status == 413 and "4000" not in body["error"]["message"]
    assert "too large" in body["error"]["message"]
    assert (await upload(server, sid, "not-the-token", "a.png", png()))[0] == 403
    other = await _customer(server)  # someone else's conversation: not theirs to upload to
    assert (await upload(server, other.session_id, token, "a.png", png()))[0] == 403
    # Another conversation's file cannot be sent from this one.
    _, theirs = await upload(server, other.session_id, other.token, "a.pdf", PDF)
    ack = await customer.say("", attachment_id=theirs["attachment"]["id"])
    assert not ack["ok"] and ack["error"]["code"] == "file_not_found"

    # Nothing was stored, and the conversation goes on.
    assert await server.app[STORE].history(sid) == []
    ack = await customer.say("hello")
    assert ack["ok"]
    reply = await customer.until_message(lambda m: m.get("seq", 0) > ack["seq"])
    assert reply["text"] == "Hi! How can I help?"
    await customer.close()
    await other.close()


async def test_the_prechat_form_fills_the_agents_card(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> None:
    flows = flows_copy(tmp_path)
    (flows / "prechat.yml").write_text(
        "enabled: true\nbefore_first_message: true\nbefore_handoff: true\n"
        "fields: [name, email]\nrequired: [email]\n"
    )
    _, server = await _gateway(fake_rasa, redis_url, tmp_path, aiohttp_server)
    customer = await _customer(server)
    config = await customer.next("widget_config")
    form = config["prechat"]
    assert form["before_first_message"] is True and form["skip"] == ""
    assert [f["name"] for f in form["fields"]] == ["name", "email"]
    bad = await customer.sio.call("prechat", {"name": "Ana", "email": "ana@"}, timeout=10)
    assert not bad["ok"] and "e-mail address" in bad["error"]["message"]
    answers = {"name": "Ana Ruiz", "email": "ana@example.com"}
    ok = await customer.sio.call("prechat", answers, timeout=10)
    assert ok["ok"]
    ack = await customer.say("/human_handoff")
    assert ack["ok"]
    await customer.answer()
    store = server.app[STORE]
    case_id = (await store.get_conversation(customer.session_id))["case_id"]
    card = (await server.app[DESK].case_view("", case_id))["card"]
    assert card["customer"] == {"name": "Ana Ruiz", "email": "ana@example.com"}
    assert card["customer_label"] == "Ana Ruiz"
    await customer.close()
