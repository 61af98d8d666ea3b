"""Bad input gets a clear error and loses nothing; Rasa down is said honestly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestServer

from tests.support import WidgetClient


async def test_rasa_down_is_told_honestly_and_the_message_is_kept(
    offline_gateway: Callable[..., Any],
) -> None:
    server: TestServer = await offline_gateway()
    client = WidgetClient(str(server.make_url("/")).rstrip("/"))
    try:
        await client.connect()
        ack = await client.say("Where is my order 1042?")
        assert ack["ok"]
        answer = await client.answer()
        assert len(answer) == 1
        assert answer[0]["sender"]["kind"] == "system"
        assert "your message is saved" in answer[0]["text"]
        await client.close()

        again = WidgetClient(client.base_url, client.session_id)
        history = await again.connect()
        assert [(m["role"], m.get("text")) for m in history["messages"]] == [
            ("customer", "Where is my order 1042?"),
            ("system", answer[0]["text"]),
        ]
        await again.close()
    finally:
        await client.close()


async def test_malformed_events_get_errors_and_nothing_breaks(
    offline_gateway: Callable[..., Any],
) -> None:
    server: TestServer = await offline_gateway(MAX_MESSAGE_LENGTH="50")
    client = WidgetClient(str(server.make_url("/")).rstrip("/"))
    try:
        await client.sio.connect(client.base_url, transports=["websocket"])
        # Before any session: refused with a reason.
        ack = await client.sio.call("user_uttered", {"message": "hi"}, timeout=5)
        assert ack["ok"] is False and ack["error"]["code"] == "no_session"
        assert (await client.next("frontdesk_error"))["code"] == "no_session"
        await client.sio.emit("session_request", "not an object")
        error = await client.next("frontdesk_error")
        assert error["code"] == "bad_request"
        await client.sio.emit("session_request", {"session_id": "bad id with spaces"})
        assert (await client.next("frontdesk_error"))["code"] == "bad_request"
        huge = {"session_id": client.session_id, "last_seq": 10**30}
        await client.sio.emit("session_request", huge)
        assert (await client.next("frontdesk_error"))["code"] == "bad_request"

        await client.sio.emit("session_request", {"session_id": client.session_id, "frontdesk": 1})
        assert await client.next("session_confirm") == client.session_id
        await client.next("history")

        cases = [
            ("just text", "bad_request"),
            ({"message": 42, "session_id": client.session_id}, "bad_request"),
            ({"message": "   ", "session_id": client.session_id}, "empty_message"),
            ({"message": "x" * 51, "session_id": client.session_id}, "message_too_long"),
            ({"message": "hi", "session_id": client.session_id, "customData": "x"}, "bad_request"),
            ({"message": "hi", "session_id": "someone-else"}, "bad_request"),
            # A lone surrogate cannot be stored: refused with a reason, never a crash.
            ({"message": "hi \ud800", "session_id": client.session_id}, "bad_request"),
            ({"message": "hi", "title": "\udfff", "session_id": client.session_id}, "bad_request"),
            (
                {"message": "hi", "session_id": client.session_id, "customData": {"a": "\ud800"}},
                "bad_request",
            ),
        ]
        for payload, code in cases:
            ack = await client.sio.call("user_uttered", payload, timeout=5)
            assert ack["ok"] is False and ack["error"]["code"] == code, payload
            assert (await client.next("frontdesk_error"))["code"] == code
        too_long = client.received["frontdesk_error"][-6]
        assert "51" in too_long["message"] and "50" in too_long["message"]

        # An event named like a reserved one is no connection: the session is untouched.
        await client.sio.emit("connect", {"HTTP_ACCEPT_LANGUAGE": "ru"})
        # The connection still works and nothing was stored by the refused events.
        ack = await client.say("x" * 50)
        assert ack == {"ok": True, "seq": 1, "duplicate": False}
    finally:
        await client.close()


async def test_a_message_typed_in_one_tab_shows_in_the_other(
    offline_gateway: Callable[..., Any],
) -> None:
    server: TestServer = await offline_gateway()
    first = WidgetClient(str(server.make_url("/")).rstrip("/"))
    second = WidgetClient(first.base_url, first.session_id)
    try:
        await first.connect()
        await second.connect()
        ack = await first.say("hello from tab one", client_msg_id="tab-1")
        echo = await second.next("user_echo")
        assert echo == {"seq": ack["seq"], "text": "hello from tab one", "client_msg_id": "tab-1"}
        assert first.received["user_echo"] == []
    finally:
        await first.close()
        await second.close()
