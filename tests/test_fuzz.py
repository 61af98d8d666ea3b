"""Issue 11: the gateway under fuzz. Thousands of malformed Socket.IO events (wrong types, huge
and deeply nested payloads, lone surrogates, unknown and reserved event names, out-of-range
numbers) on the widget and agent namespaces, and hundreds of malformed signed and unsigned
Telegram and Messenger webhook bodies, against the real gateway with real Redis and a scripted
bot. What must hold: nothing unhandled in the log, no 5xx, every widget event sent with an ack
answered (an error ack or a `frontdesk_error`), the process's memory flat, and a customer and an
agent still working afterwards. The generator is seeded: each client's sequence of payloads
reproduces with the same FUZZ_SEED (default 11); FUZZ_EVENTS (default 2000) runs a longer fuzz.

The cases that found bugs are kept, with the answer they must get, in
`test_the_cases_the_fuzz_found_are_answered`."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import itertools
import json
import logging
import math
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
import socketio
from aiohttp.test_utils import TestServer

from frontdesk.app import SIO, STORE, make_app
from frontdesk.console.auth import hash_password, socket_token
from frontdesk.console.keys import DESK, SECRET
from frontdesk.keys import ADDRESSES
from tests.conftest import make_settings
from tests.fake_apis import FakeGraph, FakeTelegram
from tests.fake_rasa import FakeRasa, Turn

SEED = int(os.environ.get("FUZZ_SEED", "11"))
EVENTS = int(os.environ.get("FUZZ_EVENTS", "2000"))  # widget events after the warm-up
MAX_MESSAGE_LENGTH = 2000
PACKET_LIMIT = 64 * 1024  # characters of a packet the gateway reads (MAX_MESSAGE_LENGTH=2000)
FRAME_LIMIT = 1024 * 1024  # bytes of a frame its transport takes (max_http_buffer_size)
TG_TOKEN = "123456789:AAH-fuzz_token-for-the-fake-bot-api"
TG_SECRET = "fuzz-Secret_token"
TG_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PAGE_TOKEN = "EAAG-fuzz-page-access-token"
APP_SECRET = "fuzz-0123456789abcdef-app-secret"
IDENTITY_SECRET = "fuzz-identity-secret-of-the-shop"
WIDGET_EVENTS = ("session_request", "user_uttered", "answer_feedback", "user_typing", "prechat")
AGENT_EVENTS = (
    "claim",
    "reply",
    "note",
    "tags",
    "transfer",
    "close",
    "presence",
    "open_case",
    "typing",
    "canned",
    "answer_message",
    "retry_mail",
)
RESERVED = ("connect", "disconnect", "message", "connect_error", "session_request")
CALL_TIMEOUT = 10.0
MEMORY_BOUND = 30 * 1024 * 1024
_ids = itertools.count(1_000_000)  # chat ids, message ids (Redis is emptied for each test)


# -- the generator ------------------------------------------------------------------------------


class Junk:
    """Malformed values, reproducible from a seed."""

    SURROGATES = ("\ud800", "\udfff", "a\ud83d", "\udc00b", "x\ud800y\udbff")
    NUMBERS: tuple[Any, ...] = (
        2**63,
        2**63 - 1,
        -(2**63),
        2**64,
        -1,
        0,
        10**30,
        2**53,
        -(2**53),
        math.nan,
        math.inf,
        -math.inf,
        1e308,
        -0.0,
        0.5,
        float(2**53),
    )

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def choice(self, options: Any) -> Any:
        return self.r.choice(options)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def hex(self) -> str:
        return f"{self.r.getrandbits(128):032x}"

    def surrogate(self) -> str:
        return str(self.choice(self.SURROGATES))

    def text(self) -> str:
        kind = self.r.randrange(14)
        if kind == 0:
            return ""
        if kind == 1:
            return " \t\n "
        if kind == 2:
            return self.surrogate()
        if kind == 3:
            return "hello " + self.surrogate()
        if kind == 4:
            return "x" * (MAX_MESSAGE_LENGTH + self.r.randrange(1, 50))
        if kind == 5:  # huge, within the transport's packet limit
            return "y" * self.r.randrange(10_000, 50_000)
        if kind == 6:
            return "\x00\x01\x1b[31m\u202e\ufeff"
        if kind == 7:
            return "{{ 7 * 7 }} {% for x in y %} %s %(name)s {0}"
        if kind == 8:
            return "<script>alert(1)</script>"
        if kind == 9:
            return "Ω🙂" * self.r.randrange(1, 300)
        if kind == 10:
            return "/" + "a" * self.r.randrange(1, 100)
        if kind == 11:
            return "a" * 129 + ":bad id"
        if kind == 12:
            return self.hex()
        return "".join(chr(self.r.randrange(1, 0x10FFFF)) for _ in range(self.r.randrange(1, 40)))

    def scalar(self) -> Any:
        kind = self.r.randrange(6)
        if kind == 0:
            return None
        if kind == 1:
            return self.chance(0.5)
        if kind == 2:
            return self.choice(self.NUMBERS)
        if kind == 3:
            return self.r.randrange(-(10**9), 10**9)
        if kind == 4:
            return self.text()
        return b"\x00\xffbytes"

    def key(self) -> str:
        return str(self.choice(("", "message", "__proto__", "a" * 300, self.surrogate(), "seq")))

    def value(self, depth: int = 0) -> Any:
        if depth >= 3 or self.chance(0.6):
            return self.scalar()
        if self.chance(0.5):
            return [self.value(depth + 1) for _ in range(self.r.randrange(4))]
        return {self.key(): self.value(depth + 1) for _ in range(self.r.randrange(4))}

    def nested(self, depth: int) -> Any:
        """Nested lists and dicts, `depth` levels (a Python client can encode a few hundred)."""
        value: Any = "bottom"
        for level in range(depth):
            value = [value] if level % 2 else {"k": value}
        return value

    def whole(self) -> Any:
        """A payload of the wrong type for an event that expects an object."""
        return self.choice(
            (None, True, False, 0, -1, 2**63, math.nan, "text", self.surrogate(), [], [1, {}], {})
        )

    def wrong(self) -> Any:
        """Any malformed value: a scalar, a container, a deep nest, a huge string."""
        kind = self.r.randrange(10)
        if kind < 6:
            return self.scalar()
        if kind < 8:
            return self.value(1)
        if kind == 8:
            return self.nested(self.r.randrange(20, 300))
        return {self.surrogate(): self.text()}


def widget_event(junk: Junk, session_id: str) -> tuple[str, Any]:
    """One malformed widget event: valid-looking with one field broken, the wrong type, an
    unknown or reserved name."""
    kind = junk.r.randrange(100)
    if kind < 30:
        data: Any = {
            "message": "Where is my order?",
            "session_id": session_id,
            "client_msg_id": junk.hex(),
            "customData": {"language": "en"},
        }
        broken = junk.choice(
            ("message",) * 4
            + ("session_id", "client_msg_id", "customData", "title", "attachment_id")
        )
        if broken == "customData" and junk.chance(0.5):
            data[broken] = junk.choice(
                (
                    {"language": junk.wrong()},
                    {"user_id": junk.scalar(), "user_hash": junk.scalar()},
                    {"k": "v" * 5000},
                    {junk.surrogate(): 1},
                    junk.nested(400),
                )
            )
        elif junk.chance(0.1):
            del data[broken if broken in data else "message"]
        else:
            data[broken] = junk.text() if broken == "message" and junk.chance(0.5) else junk.wrong()
        return "user_uttered", data
    if kind < 45:
        data = {"session_id": session_id, "last_seq": 0, "frontdesk": 1}
        broken = junk.choice(("last_seq", "last_seq", "session_id", "customData", "resume_token"))
        data[broken] = junk.choice((2**63, -1, math.nan, math.inf, "5", True, 1.5, None, [1]))
        if broken != "last_seq" or junk.chance(0.3):
            data[broken] = junk.wrong()
        return "session_request", data
    if kind < 55:
        data = {"seq": 1, "helpful": True}
        broken = junk.choice(("seq", "helpful"))
        data[broken] = junk.choice((2**63, -1, 0, math.nan, -math.inf, "1", None, [], 1.0, "yes"))
        if junk.chance(0.3):
            data[broken] = junk.wrong()
        return "answer_feedback", data
    if kind < 60:
        return "user_typing", junk.choice(({"typing": junk.wrong()}, junk.whole(), junk.wrong()))
    if kind < 63:
        data = {"name": "Jane", "email": "jane@example.com"}
        data[junk.choice(("name", "email", junk.key()))] = junk.wrong()
        return "prechat", data
    if kind < 75:
        return junk.choice(WIDGET_EVENTS), junk.whole()
    if kind < 88:
        name = junk.choice(
            (
                "no_such_event",
                "on_user_uttered",
                "_error",
                "deliver",
                "emit",
                "trigger_event",
                "__init__",
                "session_request ",
                "USER_UTTERED",
                "x" * 5000,
                junk.surrogate(),
                "",
                "typing",
                "history",
                "frontdesk_error",
            )
        )
        return name, junk.wrong()
    return junk.choice(RESERVED), junk.wrong()


def agent_event(junk: Junk, case_id: str) -> tuple[str, Any]:
    name = junk.choice(AGENT_EVENTS)
    if junk.chance(0.15):
        return name, junk.whole()
    if junk.chance(0.08):
        return junk.choice(("no_such_event", "connect", "disconnect", "message", "")), junk.wrong()
    data: dict[Any, Any] = {
        "case_id": case_id if junk.chance(0.6) else "case-does-not-exist",
        "text": "Thanks, looking into it",
        "tags": ["billing"],
        "to": "nobody",
        "status": "away",
        "key": "greeting",
        "typing": True,
    }
    broken = junk.choice(("case_id", "text", "text", "tags", "to", "status", "key", "typing"))
    data[broken] = junk.text() if broken == "text" and junk.chance(0.5) else junk.wrong()
    if broken == "tags" and junk.chance(0.5):
        data["tags"] = [junk.text(), junk.surrogate(), "billing"]
    return name, data


# -- webhook bodies -----------------------------------------------------------------------------


def tg_update(junk: Junk) -> Any:
    chat_id = next(_ids)
    message: dict[str, Any] = {
        "message_id": next(_ids),
        "from": {"id": chat_id, "is_bot": False, "first_name": "Fuzz", "language_code": "en"},
        "chat": {"id": chat_id, "type": "private"},
        "date": 1746268800,
        "text": "Where is my order?",
    }
    kind = junk.r.randrange(10)
    if kind == 0:
        return junk.whole()
    if kind == 1:
        return {"update_id": junk.wrong(), "message": message}
    if kind == 2:
        return {"update_id": next(_ids), "message": junk.wrong()}
    if kind == 3:
        for name in ("from", "chat", "message_id"):
            if junk.chance(0.5):
                message[name] = junk.wrong()
        return {"update_id": next(_ids), "message": message}
    if kind == 4:
        huge = "h" * junk.r.randrange(100_000, 900_000)  # kept, with "too long" as the answer
        message["text"] = junk.choice((junk.text(), junk.wrong(), junk.surrogate(), huge))
        return {"update_id": next(_ids), "message": message}
    if kind == 5:
        message.pop("text")
        message[junk.choice(("sticker", "photo", "document", "caption"))] = junk.wrong()
        message["caption"] = junk.choice((junk.surrogate(), junk.text(), junk.wrong()))
        return {"update_id": next(_ids), "message": message}
    if kind == 6:
        message["from"] = {junk.key(): junk.wrong(), "first_name": junk.surrogate()}
        return {"update_id": next(_ids), "message": message}
    if kind == 7:
        query = {
            "id": junk.choice((junk.text(), junk.wrong(), "cb1")),
            "from": junk.choice(({"id": chat_id}, junk.wrong())),
            "data": junk.choice((junk.text(), junk.wrong(), "fdq:0123abcd")),
            "message": junk.choice((message, junk.wrong())),
        }
        return {"update_id": next(_ids), "callback_query": query}
    if kind == 8:
        return {"update_id": next(_ids), "edited_message": junk.choice((message, junk.wrong()))}
    return {"update_id": next(_ids), junk.key(): junk.wrong()}


def fb_body(junk: Junk) -> Any:
    psid = str(10**15 + next(_ids))
    message: dict[str, Any] = {"mid": f"m_{junk.hex()}", "text": "Where is my order?"}
    item: dict[str, Any] = {"sender": {"id": psid}, "recipient": {"id": "1"}, "message": message}
    kind = junk.r.randrange(9)
    if kind == 0:
        return junk.whole()
    if kind == 1:
        return {"object": junk.wrong(), "entry": []}
    if kind == 2:
        return {"object": "page", "entry": junk.wrong()}
    if kind == 3:
        return {"object": "page", "entry": [junk.wrong(), {"messaging": junk.wrong()}]}
    if kind == 4:
        item["sender"] = junk.choice(({"id": junk.wrong()}, junk.wrong(), {"id": junk.surrogate()}))
    elif kind == 5:
        message[junk.choice(("mid", "text", "quick_reply", "attachments", "is_echo"))] = (
            junk.wrong()
        )
    elif kind == 6:
        huge = "h" * junk.r.randrange(100_000, 900_000)
        message["text"] = junk.choice((junk.text(), junk.surrogate(), huge))
    elif kind == 7:
        item.pop("message")
        item[junk.choice(("postback", "message_edit", "read", "reaction"))] = junk.choice(
            (junk.wrong(), {"mid": junk.text(), "payload": junk.wrong(), "title": junk.text()})
        )
    else:
        item[junk.key()] = junk.wrong()
    return {"object": "page", "entry": [{"id": "1", "time": 1, "messaging": [item]}]}


def raw_body(junk: Junk, body: Any) -> bytes:
    """The body as bytes: usually its JSON, sometimes not JSON at all, huge, or deep."""
    kind = junk.r.randrange(12)
    if kind == 0:
        return junk.choice((b"", b"{", b"\xff\xfe\x00", b"null", b"[]", b"42", b'"x"', b"NaN"))
    if kind == 1:
        depth = junk.r.randrange(1000, 100_000)
        return b"[" * depth + b"]" * depth
    if kind == 2:
        return b'{"update_id": 1, "message": ' * 1500 + b"1" + b"}" * 1500
    if kind == 3:  # a lone surrogate written as a JSON escape, in a key or a value
        return b'{"update_id": 5, "\\ud800": "\\udfff", "object": "page", "entry": "\\ud800"}'
    if kind == 4:  # over the 1 MB body limit
        return b'{"pad": "' + b"z" * (1024 * 1024 + 10) + b'"}'
    if kind == 5:  # invalid UTF-8
        return raw_body(junk, body)[:-1] + b"\xc3\x28}"
    return json.dumps(body, default=lambda b: b.decode("latin-1")).encode()


# -- clients ------------------------------------------------------------------------------------


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)  # events sent, by kind
    answers: Counter[str] = field(default_factory=Counter)  # how they were answered
    problems: list[str] = field(default_factory=list)  # unanswered or badly answered

    def problem(self, what: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(what[:300])
        self.answers["PROBLEM"] += 1


def error_shape(ack: Any) -> bool:
    if not isinstance(ack, dict) or ack.get("ok") is not False:
        return False
    error = ack.get("error")
    return (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
        and bool(error["message"])
    )


class FuzzClient:
    """A Socket.IO client that records every event it receives, in order."""

    def __init__(self, base_url: str, namespace: str = "/") -> None:
        self.base_url = base_url
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.closed = asyncio.Event()
        self.changed = asyncio.Condition()
        self.session_id = ""
        self.name = ""  # an agent's user name
        self.sio.on("*", self._record, namespace=namespace)
        self.sio.on("disconnect", self._gone, namespace=namespace)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))
        if event == "session_confirm" and isinstance(data, str):
            self.session_id = data
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, check: Callable[[], bool], timeout: float = 20) -> None:
        """Until check() holds, looked at each time an event arrives."""
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(check), timeout)

    def received(self, event: str, check: Callable[[Any], bool] = lambda _: True) -> bool:
        return any(e == event and check(d) for e, d in self.events)

    async def _gone(self, reason: Any = None) -> None:
        self.closed.set()

    async def connect(self, auth: Any = None) -> None:
        self.closed.clear()
        await self.sio.connect(
            self.base_url, namespaces=[self.namespace], auth=auth, transports=["websocket"]
        )

    async def open_session(self, extras: bool = True) -> str:
        start = len(self.events)
        request: dict[str, Any] = {"frontdesk": 1} if extras else {}
        await self.sio.emit("session_request", request)
        await self.wait_for(lambda: any(e == "session_confirm" for e, _ in self.events[start:]))
        return self.session_id

    async def call(self, event: str, data: Any, tally: Tally, kind: str) -> Any:
        """Send with an ack and check it was answered: an ack {ok, ...} (an error one with
        code and message), or an empty ack after a frontdesk_error (or, to a stock client,
        a bot message) or a session_confirm."""
        start = len(self.events)
        tally.sent[kind] += 1
        args = data if isinstance(data, tuple) else (data,)
        try:
            ack = await self.sio.call(
                event,
                args if len(args) != 1 else args[0],
                namespace=self.namespace,
                timeout=CALL_TIMEOUT,
            )
        except socketio.exceptions.TimeoutError:
            tally.problem(f"no answer to {event!r} {_short(data)}")
            return None
        arrived = [e for e, _ in self.events[start:]]
        if error_shape(ack):
            tally.answers["error ack"] += 1
        elif isinstance(ack, dict) and ack.get("ok") is True:
            tally.answers["ok ack"] += 1
        elif isinstance(ack, dict) and "ok" in ack:
            tally.problem(f"error ack without code and message to {event!r}: {ack}")
        elif ack is None and "frontdesk_error" in arrived:
            tally.answers["frontdesk_error"] += 1
        elif ack is None and "session_confirm" in arrived:
            tally.answers["session_confirm"] += 1
        elif ack is None and "bot_uttered" in arrived and self.namespace == "/":
            tally.answers["bot_uttered (stock client)"] += 1
        else:
            tally.problem(f"{event!r} {_short(data)} answered {_short(ack)}, then {arrived}")
        return ack

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


def _kind(event: str) -> str:
    known = (*WIDGET_EVENTS, *AGENT_EVENTS, *RESERVED)
    return event if event in known else "unknown event name"


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, default=repr)
    except (ValueError, RecursionError):
        text = repr(type(value))
    return text[:160]


class RawSocket:
    """An Engine.IO v4 websocket client writing Socket.IO packets by hand: what a library
    client cannot send (invalid JSON, nesting deeper than its encoder goes, event names that
    are not text, extra arguments)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.prefix = ""
        self.http = aiohttp.ClientSession()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.events: list[tuple[Any, Any]] = []
        self.ids = itertools.count(1000)
        self.reader: asyncio.Task[None] | None = None

    async def connect(self, namespace: str = "/", auth: Any = None) -> None:
        url = self.base_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = await self.http.ws_connect(url)
        opened = await self.ws.receive_str()
        assert opened.startswith("0"), opened
        prefix = "" if namespace == "/" else f"{namespace},"
        await self.ws.send_str(f"40{prefix}{json.dumps(auth) if auth else ''}")
        self.prefix = prefix
        while not (connected := await self.ws.receive_str()).startswith(f"40{prefix}"):
            assert connected.startswith(f"42{prefix}"), connected  # events sent on connect
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            text: str = message.data
            if text == "2":
                await self.ws.send_str("3")
                continue
            body = text[2:].removeprefix(self.prefix)
            if text.startswith("43"):
                digits = len(body) - len(body.lstrip("0123456789"))
                future = self.acks.pop(int(body[:digits]), None)
                if future is not None and not future.done():
                    future.set_result(json.loads(body[digits:]))
            elif text.startswith("42"):
                event = json.loads(body)
                self.events.append((event[0], event[1] if len(event) > 1 else None))

    async def call(self, payload: str, tally: Tally, kind: str) -> Any:
        """Send `42<id><payload>` and wait for its ack (a list of arguments)."""
        assert self.ws is not None
        ack_id = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = future
        start = len(self.events)
        tally.sent[kind] += 1
        await self.ws.send_str(f"42{self.prefix}{ack_id}{payload}")
        try:
            args = await asyncio.wait_for(future, CALL_TIMEOUT)
        except TimeoutError:
            tally.problem(f"no answer to raw packet {payload[:120]!r}")
            return None
        ack = args[0] if args else None
        arrived = [e for e, _ in self.events[start:]]
        if error_shape(ack):
            tally.answers["error ack"] += 1
        elif ack is None and "frontdesk_error" in arrived:
            tally.answers["frontdesk_error"] += 1
        else:
            tally.problem(f"raw packet {payload[:120]!r} answered {args!r}, then {arrived}")
        return ack

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
        await self.http.close()


def raw_packets(junk: Junk, session_id: str) -> Iterator[tuple[str, str]]:
    """(kind, packet after the ack id) that only a hand-written client sends."""
    deep = junk.r.randrange(1000, 3000)
    yield "deep list (raw)", f'["user_uttered",{"[" * deep}{"]" * deep}]'
    deep_dict = '{"message":' * deep + '"x"' + "}" * deep
    yield "deep dict (raw)", f'["user_uttered",{deep_dict}]'
    yield (
        "deep customData (raw)",
        (
            f'["user_uttered",{{"message":"hi","session_id":"{session_id}",'
            f'"customData":{"[" * deep}{"]" * deep}}}]'
        ),
    )
    yield "deep session_request (raw)", f'["session_request",{deep_dict}]'
    yield (
        "event name not text",
        junk.choice(("[1,{}]", "[null]", "[{}]", "[[]]", "[true]", "[1.5]")),
    )
    yield "extra arguments", '["user_uttered",{"message":"hi"},{"message":"again"},3]'
    yield "extra arguments", '["session_request",{},{}]'
    yield "extra arguments", '["answer_feedback",{"seq":1,"helpful":true},null]'
    yield "extra arguments", '["connect",{},{},{},{}]'
    yield "extra arguments", '["disconnect","a","b","c"]'
    yield "not JSON", junk.choice(('["user_uttered",{', "[user_uttered]", '["a"]]', "[NaN"))
    yield "not a list", junk.choice(('{"message":"hi"}', '"user_uttered"', "true", "null", "[]"))
    yield "lone surrogate (raw)", '["user_uttered",{"message":"\\ud800","\\udfff":1}]'
    yield "lone surrogate (raw)", '["\\ud800",{}]'


# -- the gateway --------------------------------------------------------------------------------


@dataclass
class Gateway:
    server: TestServer
    fake: FakeRasa
    telegram: FakeTelegram
    graph: FakeGraph

    @property
    def base(self) -> str:
        return str(self.server.make_url("/")).rstrip("/")


@pytest.fixture
async def gateway(
    fake_rasa: tuple[FakeRasa, str],
    redis_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
) -> AsyncIterator[Gateway]:
    fake, rasa_url = fake_rasa
    telegram = FakeTelegram(TG_TOKEN)
    telegram.url = str((await aiohttp_server(telegram.app)).make_url("")).rstrip("/")
    graph = FakeGraph(PAGE_TOKEN)
    graph.url = str((await aiohttp_server(graph.app)).make_url(f"/{graph.version}")).rstrip("/")
    settings = make_settings(
        redis_url,
        rasa_url,
        tmp_path,
        MAX_MESSAGE_LENGTH=str(MAX_MESSAGE_LENGTH),
        IDENTITY_SECRET=IDENTITY_SECRET,
        TELEGRAM_TOKEN=TG_TOKEN,
        TELEGRAM_SECRET_TOKEN=TG_SECRET,
        TELEGRAM_API_URL=telegram.url,
        MESSENGER_PAGE_TOKEN=PAGE_TOKEN,
        MESSENGER_APP_SECRET=APP_SECRET,
        MESSENGER_VERIFY_TOKEN="fuzz-verify",
        MESSENGER_API_URL=graph.url,
    )
    fake.script["it arrived broken"] = Turn(
        "returns", 0.95, "returns/damaged_item", 0.9, ("Sorry it arrived damaged.",)
    )
    server: TestServer = await aiohttp_server(make_app(settings))
    yield Gateway(server, fake, telegram, graph)


async def new_agent(gw: Gateway, name: str) -> FuzzClient:
    desk = gw.server.app[DESK]
    fields = {"display_name": name.title(), "password_hash": hash_password("pw"), "capacity": "5"}
    await desk.agents.save(name, fields)
    agent = FuzzClient(gw.base, "/agent")
    agent.name = name
    await agent.connect(auth={"token": socket_token(gw.server.app[SECRET], name)})
    return agent


async def handed_off(gw: Gateway, agent: FuzzClient) -> tuple[FuzzClient, str]:
    """A customer whose conversation waits for a person, and its case id (claimed by agent)."""
    customer = FuzzClient(gw.base)
    await customer.connect()
    session_id = await customer.open_session()
    ack = await customer.sio.call(
        "user_uttered", {"message": "it arrived broken", "session_id": session_id}, timeout=10
    )
    assert ack["ok"], ack

    def queued() -> list[dict[str, Any]]:
        queues = [d for e, d in agent.events if e == "queue"]
        return [i for q in queues for i in q["items"] if i["conversation_id"] == session_id]

    await agent.wait_for(lambda: bool(queued()))
    case_id = str(queued()[0]["case_id"])
    claimed = await agent.sio.call("claim", {"case_id": case_id}, namespace="/agent")
    assert claimed["ok"], claimed
    return customer, case_id


# -- the phases ---------------------------------------------------------------------------------


async def fuzz_widget(gw: Gateway, junk: Junk, tally: Tally, events: int) -> None:
    """`events` events over several clients at once: with acks (frontdesk widgets with a
    session, a stock client with a session, one with none, a hand-written client) and without."""
    kinds = ("frontdesk", "frontdesk", "frontdesk", "frontdesk", "stock", "no session")
    callers = [FuzzClient(gw.base) for _ in kinds]
    emitter = FuzzClient(gw.base)
    raw = RawSocket(gw.base)
    try:
        for client, kind in zip(callers, kinds, strict=True):
            await client.connect()
            if kind != "no session":
                await client.open_session(extras=kind == "frontdesk")
        await emitter.connect()
        await emitter.open_session()
        await raw.connect()

        per_client = events // (len(callers) + 3)
        seeds = [junk.r.randrange(2**32) for _ in range(len(callers) + 2)]

        async def calls(client: FuzzClient, seed: int, label: str) -> None:
            own = Junk(seed)
            for _ in range(per_client):
                event, data = widget_event(own, client.session_id or own.hex())
                if own.chance(0.03):
                    data = (data, own.wrong())  # extra arguments
                await client.call(event, data, tally, f"{_kind(event)} ({label})")

        async def emits(client: FuzzClient, seed: int) -> None:
            own = Junk(seed)
            for index in range(1, per_client * 2 + 1):
                event, data = widget_event(own, client.session_id)
                tally.sent[f"{_kind(event)} (no ack)"] += 1
                await client.sio.emit(event, data)
                if index % 50 == 0:  # a call now and then: the emits do not pile up unanswered
                    await client.call("no_such_event", {}, tally, "unknown event name (barrier)")

        async def raws() -> None:
            own = Junk(seeds[-2])
            sent = 0
            while sent < per_client:
                for kind, packet in raw_packets(own, raw_session):
                    await raw.call(packet, tally, kind)
                    sent += 1

        raw_session = junk.hex()
        await asyncio.gather(
            *(calls(c, s, k) for c, s, k in zip(callers, seeds, kinds, strict=False)),
            emits(emitter, seeds[-1]),
            raws(),
        )
        await oversize(gw, junk, tally)
        for client in [*callers, emitter]:
            assert client.sio.connected, "the gateway closed a fuzz client's connection"
    finally:
        for client in [*callers, emitter]:
            await client.close()
        await raw.close()


async def oversize(gw: Gateway, junk: Junk, tally: Tally) -> None:
    """Packets too long to read are answered `message_too_long` and the connection stays; a
    frame over the transport's limit is refused with WebSocket close code 1009."""
    client = FuzzClient(gw.base)
    await client.connect()
    session_id = await client.open_session()
    for size in (PACKET_LIMIT + 1, PACKET_LIMIT * 4, FRAME_LIMIT - 1000):
        message = {"message": "o" * size, "session_id": session_id}
        ack = await client.call("user_uttered", message, tally, "oversize packet")
        if not (error_shape(ack) and ack["error"]["code"] == "message_too_long"):
            tally.problem(f"oversize packet of {size} answered {_short(ack)}")
    assert client.sio.connected
    await client.close()
    async with aiohttp.ClientSession() as http:
        url = gw.base.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        async with http.ws_connect(url) as ws:
            await ws.receive_str()
            tally.sent["frame over the transport's limit"] += 1
            await ws.send_str("4" + "2" + json.dumps(["user_uttered", "o" * FRAME_LIMIT]))
            closed = await ws.receive(CALL_TIMEOUT)
            if (closed.type, closed.data) != (aiohttp.WSMsgType.CLOSE, 1009):
                tally.problem(f"a frame over the limit answered {closed.type} {closed.data}")
            else:
                tally.answers["frame over the limit: closed with 1009"] += 1


async def fuzz_agent(gw: Gateway, junk: Junk, tally: Tally, events: int) -> None:
    agent = await new_agent(gw, f"fuzzer{next(_ids)}")
    customer, case_id = await handed_off(gw, agent)
    try:
        for _ in range(events):
            event, data = agent_event(junk, case_id)
            ack = await agent.call(event, data, tally, f"{_kind(event)} (agent)")
            if event == "close" and isinstance(ack, dict) and ack.get("ok"):
                await customer.close()
                customer, case_id = await handed_off(gw, agent)
        raw = RawSocket(gw.base)
        token = socket_token(gw.server.app[SECRET], agent.name)
        await raw.connect("/agent", {"token": token})
        try:
            for packet in (
                '["reply",{"case_id":"' + case_id + '","text":' + "[" * 1500 + "]" * 1500 + "}]",
                "[1,{}]",
                '["claim",{},{}]',
                '["disconnect","x","y"]',
                '["connect",{},{},{}]',
                "[]",
                '["tags",{"case_id":"\\ud800","tags":["\\udfff"]}]',
            ):
                await raw.call(packet, tally, "agent (raw)")
        finally:
            await raw.close()
        assert agent.sio.connected
    finally:
        await agent.close()
        await customer.close()


@dataclass
class Posted:
    statuses: Counter[str] = field(default_factory=Counter)  # "<platform> <signed?> <status>"
    server_errors: int = 0  # 5xx
    bad: list[str] = field(default_factory=list)  # unexpected statuses, 4xx without a reason


async def fuzz_webhooks(gw: Gateway, junk: Junk, posted: Posted, bodies: int) -> None:
    async with aiohttp.ClientSession() as http:
        for index in range(bodies):
            telegram = index % 2 == 0
            body = raw_body(junk, tg_update(junk) if telegram else fb_body(junk))
            signed = junk.chance(0.8)
            headers = {"Content-Type": "application/json"}
            if telegram:
                path = "/channels/telegram"
                if signed:
                    headers[TG_HEADER] = TG_SECRET
                elif junk.chance(0.5):
                    headers[TG_HEADER] = junk.choice(
                        ("", TG_SECRET[:-1], "x" * 300, TG_SECRET + "x")
                    )
            else:
                path = "/channels/messenger"
                if signed:
                    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
                    headers["X-Hub-Signature-256"] = f"sha256={digest}"
                elif junk.chance(0.5):
                    headers["X-Hub-Signature-256"] = junk.choice(("", "sha256=00", "sha1=abc"))
            label = (
                f"{'telegram' if telegram else 'messenger'} {'signed' if signed else 'unsigned'}"
            )
            async with http.post(gw.server.make_url(path), data=body, headers=headers) as resp:
                text = await resp.text()
                posted.statuses[f"{label} {resp.status}"] += 1
                posted.server_errors += resp.status >= 500
                expected = {200, 400, 413} if signed else {403, 413}
                if resp.status not in expected or (resp.status >= 400 and not text.strip()):
                    posted.bad.append(f"{label} {resp.status} {text[:100]!r} {body[:160]!r}")


# -- the test -----------------------------------------------------------------------------------


async def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    """For state with no event to wait on: looked at until it holds, or fail after timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def log_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    gc.collect()  # "Task exception was never retrieved" is logged when the task is collected
    return [
        f"{r.name}: {r.getMessage()[:300]}" for r in caplog.records if r.levelno >= logging.ERROR
    ]


async def test_the_gateway_survives_the_fuzz(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    gw = gateway
    junk = Junk(SEED)
    tally = Tally()
    posted = Posted()
    sio = gw.server.app[SIO]

    loop = asyncio.get_running_loop()
    took: dict[str, float] = {}

    async def timed(name: str, phase: Any) -> None:
        start = loop.time()
        await phase
        took[name] = took.get(name, 0.0) + loop.time() - start

    # Warm-up: a first batch of everything, then the baseline.
    await timed("widget", fuzz_widget(gw, junk, tally, 360))
    await timed("webhooks", fuzz_webhooks(gw, junk, posted, 60))
    before_rss, before_objects = rss(), len(gc.get_objects())

    await timed("widget", fuzz_widget(gw, junk, tally, EVENTS))
    await timed("agent", fuzz_agent(gw, junk, tally, EVENTS * 3 // 20))
    await timed("webhooks", fuzz_webhooks(gw, junk, posted, EVENTS // 4))
    after_rss, after_objects = rss(), len(gc.get_objects())

    widget_events = sum(n for k, n in tally.sent.items() if "agent" not in k)
    print(f"\nfuzz seed {SEED}, seconds:", {k: round(v, 1) for k, v in took.items()})
    print(
        f"widget events sent: {widget_events}, agent events: {tally.sent.total() - widget_events}"
    )
    for kind, count in sorted(tally.sent.items()):
        print(f"  {count:5d}  {kind}")
    print("answers:", dict(tally.answers))
    print("webhook bodies:", sum(posted.statuses.values()), dict(sorted(posted.statuses.items())))
    print(
        f"memory: RSS {before_rss / 2**20:.1f} MB after the warm-up, {after_rss / 2**20:.1f} MB "
        f"after the fuzz ({(after_rss - before_rss) / 2**20:+.1f} MB); "
        f"gc objects {before_objects} -> {after_objects} ({after_objects - before_objects:+d})"
    )

    errors = log_errors(caplog)
    print(f"log errors: {len(errors)}, webhook 5xx: {posted.server_errors}")
    assert (errors, tally.problems, posted.bad) == ([], [], [])
    assert posted.server_errors == 0
    assert widget_events >= 2000 and sum(posted.statuses.values()) >= 500
    assert after_rss - before_rss < MEMORY_BOUND
    assert after_objects - before_objects < 50_000
    # Nothing is kept for the connections that are gone.
    await eventually(lambda: not sio.environ)

    # A customer still chats, and an agent still acts.
    fake = gw.fake
    fake.script["hello"] = Turn("greet", texts=("Hi! How can I help?",))
    customer = FuzzClient(gw.base)
    await customer.connect()
    session_id = await customer.open_session()
    ack = await customer.sio.call("user_uttered", {"message": "hello", "session_id": session_id})
    assert ack["ok"] is True
    await customer.wait_for(
        lambda: customer.received("bot_uttered", lambda d: d.get("text") == "Hi! How can I help?")
    )
    await customer.close()
    agent = await new_agent(gw, f"after{next(_ids)}")
    waiting, case_id = await handed_off(gw, agent)
    reply = {"case_id": case_id, "text": "I'm on it."}
    assert (await agent.sio.call("reply", reply, namespace="/agent"))["ok"] is True
    await waiting.wait_for(
        lambda: waiting.received("bot_uttered", lambda d: d.get("text") == "I'm on it.")
    )
    await waiting.close()
    await agent.close()

    await webhook_updates_are_stored_once(gw)
    assert log_errors(caplog) == []


async def webhook_updates_are_stored_once(gw: Gateway) -> None:
    """After all the malformed bodies, a valid update is stored, once, even when delivered
    twice; and it is stored before the webhook answers."""
    store = gw.server.app[STORE]
    chat_id = next(_ids)
    update = {
        "update_id": next(_ids),
        "message": {
            "message_id": next(_ids),
            "from": {"id": chat_id, "is_bot": False, "first_name": "Jane"},
            "chat": {"id": chat_id, "type": "private"},
            "date": 1746268800,
            "text": "Where is my order 77?",
        },
    }
    psid = str(10**15 + next(_ids))
    mid = f"m_{next(_ids)}"
    item = {
        "sender": {"id": psid},
        "recipient": {"id": "1"},
        "timestamp": 1,
        "message": {"mid": mid, "text": "Where is my order 78?"},
    }
    page = {"object": "page", "entry": [{"id": "1", "time": 1, "messaging": [item]}]}
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            body = json.dumps(update).encode()
            headers = {TG_HEADER: TG_SECRET, "Content-Type": "application/json"}
            async with http.post(
                gw.server.make_url("/channels/telegram"), data=body, headers=headers
            ) as resp:
                assert resp.status == 200
            stored = await store.history(f"telegram:{chat_id}")
            assert [e["text"] for e in stored if e["role"] == "customer"] == [
                "Where is my order 77?"
            ]
            body = json.dumps(page).encode()
            digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
            headers = {
                "X-Hub-Signature-256": f"sha256={digest}",
                "Content-Type": "application/json",
            }
            async with http.post(
                gw.server.make_url("/channels/messenger"), data=body, headers=headers
            ) as resp:
                assert resp.status == 200
            stored = await store.history(f"messenger:{psid}")
            assert [e["text"] for e in stored if e["role"] == "customer"] == [
                "Where is my order 78?"
            ]


async def test_the_cases_the_fuzz_found_are_answered(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """Each of these crashed a handler (a traceback in the log and no answer), was answered
    with an empty ack, answered 500, or did something it should not have, before it was fixed."""
    gw = gateway
    store = gw.server.app[STORE]
    customer = FuzzClient(gw.base)
    await customer.connect()
    session_id = await customer.open_session()
    sio = customer.sio

    async def ack(event: str, *args: Any) -> Any:
        return await sio.call(event, args[0] if len(args) == 1 else args, timeout=CALL_TIMEOUT)

    def code(answer: Any) -> str:
        assert error_shape(answer), answer
        return str(answer["error"]["code"])

    # Names no handler has, and extra arguments: an error ack (was: an empty ack, or TypeError).
    assert code(await ack("no_such_event", {})) == "unknown_event"
    assert code(await ack("message", "hello")) == "unknown_event"
    hi = {"message": "hi", "session_id": session_id}
    assert code(await ack("user_uttered", hi, {"again": 1})) == "bad_request"
    assert code(await ack("session_request", {}, {})) == "bad_request"
    # Reserved names sent by a connected client (was: TypeError, or "the customer left").
    assert code(await ack("connect", {}, {}, {})) == "bad_request"
    assert code(await ack("disconnect", "x")) == "bad_request"
    # A typing signal that is not {typing: true|false} (was: an empty ack).
    assert code(await ack("user_typing", "yes")) == "bad_request"
    assert code(await ack("user_typing", {"typing": "\ud800"})) == "bad_request"
    typing = await ack("user_typing", {"typing": True})
    assert typing["ok"] is True and typing["draft"] is False  # no agent: no draft is wanted
    # customData with bytes (a binary attachment) or NaN: refused before anything is stored
    # (was: the message stored, then TypeError when the turn was recorded).
    for custom in ({"photo": b"\x89PNG"}, {"score": math.nan}):
        assert code(await ack("user_uttered", {**hi, "customData": custom})) == "bad_request"
    assert await store.history(session_id) == []
    assert (await ack("user_uttered", hi))["ok"] is True  # the session still works
    # A resume token that is not text a token could be (was: UnicodeEncodeError): a new session.
    start = len(customer.events)
    request = {"session_id": session_id, "resume_token": "abc\udc00", "frontdesk": 1}
    assert await ack("session_request", request) is None
    assert customer.session_id != session_id
    assert "session_confirm" in [e for e, _ in customer.events[start:]]
    await customer.close()

    # Packets python-socketio could not read (was: a traceback in the log, no answer).
    raw = RawSocket(gw.base)
    await raw.connect()
    tally = Tally()
    for packet, expected in (
        ('["user_uttered",' + "[" * 1500 + "]" * 1500 + "]", "bad_request"),
        ('["user_uttered",{"message":' * 1200 + '"x"' + "}" * 1200 + "]", "bad_request"),
        ('["user_uttered",{', "bad_request"),
        ("true", "bad_request"),
        ("[]", "bad_request"),
        ('{"message":"hi"}', "bad_request"),
        ("[1,{}]", "unknown_event"),
        ('["\\ud800",{}]', "unknown_event"),
    ):
        assert code(await raw.call(packet, tally, "regression")) == expected, packet
    await raw.close()

    # The agent namespace: a forged "disconnect" does not count the agent gone (was: the
    # console's connection count went down by one), and text that cannot be stored is refused
    # with a clear error before anything is sent.
    agent = await new_agent(gw, f"regress{next(_ids)}")
    waiting, case_id = await handed_off(gw, agent)
    desk = gw.server.app[DESK]
    assert (await desk.agents.presence())[agent.name][1] == 1
    forged = await agent.sio.call("disconnect", "x", namespace="/agent", timeout=CALL_TIMEOUT)
    assert code(forged) == "bad_request"
    assert (await desk.agents.presence())[agent.name][1] == 1
    history = await store.history(waiting.session_id)
    reply = {"case_id": case_id, "text": "On it \ud800"}
    answer = await agent.sio.call("reply", reply, namespace="/agent", timeout=CALL_TIMEOUT)
    assert code(answer) == "bad_request" and "Unicode" in answer["error"]["message"]
    assert await store.history(waiting.session_id) == history
    await waiting.close()
    await agent.close()

    # Webhook bodies with a lone surrogate in their text (was: 500): a clear 400, nothing kept.
    chat_id, psid = next(_ids), str(10**15 + next(_ids))
    telegram = (
        b'{"update_id": 1, "message": {"message_id": 2, "chat": {"id": %d}, '
        b'"from": {"id": %d, "first_name": "J\\udc00"}, "text": "hi \\ud800"}}' % (chat_id, chat_id)
    )
    messenger = (
        b'{"object": "page", "entry": [{"messaging": [{"sender": {"id": "%s\\udfff"}, '
        b'"message": {"mid": "m_1", "text": "hi"}}]}]}' % psid.encode()
    )
    digest = hmac.new(APP_SECRET.encode(), messenger, hashlib.sha256).hexdigest()
    async with aiohttp.ClientSession() as http:
        for path, body, headers in (
            ("/channels/telegram", telegram, {TG_HEADER: TG_SECRET}),
            ("/channels/messenger", messenger, {"X-Hub-Signature-256": f"sha256={digest}"}),
        ):
            async with http.post(gw.server.make_url(path), data=body, headers=headers) as resp:
                assert resp.status == 400
                assert "valid Unicode" in await resp.text()
    assert await store.history(f"telegram:{chat_id}") == []
    assert await store.get_conversation(f"telegram:{chat_id}") == {}
    assert log_errors(caplog) == []


# -- frames below Socket.IO, and clients that leave mid-request (issue 20) -------------------

NOT_ENGINEIO = ("", "\x00", "\x00\x01\x02", "9", "0", "7hello", " 42[]", "\ufeff42[]", "bad")
BINARY_FRAMES = (
    b"\x01\x02",
    b"",
    b'42["user_uttered",{"message":"hi"}]',  # a text packet sent as a binary frame
    bytes(range(256)),
)


async def open_ws(gw: Gateway, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    """A WebSocket through the Engine.IO open and the Socket.IO connect of "/"."""
    url = gw.base.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    ws = await http.ws_connect(url)
    assert (await ws.receive_str()).startswith("0")
    await ws.send_str("40")
    assert (await ws.receive_str()).startswith("40")
    return ws


async def ack_of(ws: aiohttp.ClientWebSocketResponse, ack_id: int) -> Any:
    """The first argument of the ack `ack_id` (events and pings on the way are passed over)."""
    while True:
        text = await ws.receive_str(timeout=CALL_TIMEOUT)
        if text == "2":
            await ws.send_str("3")
        elif text.startswith(f"43{ack_id}"):
            args = json.loads(text[2 + len(str(ack_id)) :])
            return args[0] if args else None


async def test_frames_that_are_not_socketio_get_no_error_page_and_no_traceback(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """A text frame that is no Engine.IO packet (was: an HTTP 500 page written into the
    WebSocket, and a traceback) closes the connection with 1002 and its reason; binary frames
    no packet announced (was: TypeError) and empty packets are dropped, the connection stays
    and answers its next event; nothing is logged as an error."""
    gw = gateway
    async with aiohttp.ClientSession() as http:
        for frame in NOT_ENGINEIO:
            ws = await open_ws(gw, http)
            await ws.send_str(frame)
            closed = await ws.receive(CALL_TIMEOUT)
            assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 1002), frame
            assert closed.extra == "not an Engine.IO packet"
            await ws.close()

        ws = await open_ws(gw, http)
        for number, binary in enumerate(BINARY_FRAMES, start=1):
            await ws.send_bytes(binary)
            await ws.send_str("4")  # an Engine.IO message with no Socket.IO packet in it
            await ws.send_str(f"42{number}" + json.dumps(["no_such_event", {}]))
            answer = await ack_of(ws, number)
            assert error_shape(answer) and answer["error"]["code"] == "unknown_event"
        # A binary event whose attachment is announced, then sent as text: refused, answered.
        await ws.send_str('451-99["no_such_event",{"_placeholder":true,"num":0}]')
        await ws.send_str("42100" + json.dumps(["no_such_event", {}]))
        await ws.send_bytes(b"the attachment")
        assert error_shape(await ack_of(ws, 99))
        await ws.close()
    assert log_errors(caplog) == []


async def polling_leave(gw: Gateway, http: aiohttp.ClientSession, body: list[str]) -> None:
    """Over the polling transport: connect "/", then POST `body` (packets arriving in one
    request, as a browser's last ones before the page closes, are handled in order)."""
    url = f"{gw.base}/socket.io/?EIO=4&transport=polling"
    async with http.get(url) as resp:
        opened = await resp.text()
    sid = json.loads(opened[1:])["sid"]
    url = f"{url}&sid={sid}"
    async with http.post(url, data="40") as resp:
        assert resp.status == 200
    async with http.get(url) as resp:
        assert (await resp.text()).startswith("40")
    async with http.post(url, data="\x1e".join(body)) as resp:
        assert resp.status == 200


async def test_clients_that_leave_while_their_request_runs_leave_nothing_behind(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    """session_request (a first one, another one on a connection that has a conversation, a
    resume) and user_uttered sent as the client leaves, every way it can leave (Socket.IO
    disconnect, Engine.IO close, the TCP connection dropped), over both transports: was a
    KeyError traceback in widget_session.py. Nothing is logged as an error, and once all are
    gone nothing is kept for them (their sessions, their address's open connections)."""
    gw = gateway
    sio = gw.server.app[SIO]
    addresses = gw.server.app[ADDRESSES]
    keeper = FuzzClient(gw.base)
    await keeper.connect()
    kept = await keeper.open_session()
    leaves = ("41", "1", None)  # None: the TCP connection is dropped
    requests = (
        ["session_request", {"frontdesk": 1}],
        ["session_request", {}],
        ["session_request", {"session_id": kept, "resume_token": "not-the-token", "frontdesk": 1}],
        ["session_request", "not an object"],
        ["user_uttered", {"message": "are you there?"}],
    )
    first = "421" + json.dumps(["session_request", {"frontdesk": 1}])
    async with aiohttp.ClientSession() as http:
        for round_ in range(4):
            for leave in leaves:
                for request in requests:
                    sends = [f"42{n}" + json.dumps(request) for n in range(2, 5)]
                    if leave is not None:  # ("41" leaves "/" only: then the Engine.IO close)
                        body = [*sends, leave] + (["1"] if leave == "41" else [])
                        await polling_leave(gw, http, [first, *body] if round_ % 2 else body)
                    ws = await open_ws(gw, http)
                    if round_ % 2:  # a connection that already has a conversation
                        await ws.send_str(first)
                        await ack_of(ws, 1)
                    for send in sends:
                        await ws.send_str(send)
                    if leave is None:
                        assert ws._response.connection is not None
                        ws._response.connection.transport.abort()  # type: ignore[union-attr]
                    else:
                        await ws.send_str(leave)
                    await ws.close()
    await keeper.close()
    await eventually(lambda: not sio.environ)
    assert addresses.open_connections("127.0.0.1") == 0
    assert log_errors(caplog) == []
