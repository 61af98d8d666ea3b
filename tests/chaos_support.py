"""The people of tests/test_chaos.py: customers and agents who keep going through faults, as
frontdesk's widget and console do. A customer sends each message with a client_msg_id until it
is acknowledged (again after a reconnect, or after `store_unavailable`), then waits for its
answer; a lost connection is reopened with the widget's back-off (1 s doubling to 15 s, ±75 %
jitter) and resumes the same conversation with its token. An agent's console reconnects the
same way, checks it still holds its cases and answers what came in while it was away; like the
console, a case_message whose seq leaves a gap makes her open the case and answer what she
missed, and a reply that failed is sent again once she has checked it was not stored."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

from tests.support import AgentClient, WidgetClient

ANSWER_WITHIN = 150.0  # seconds: a bound, not a measurement (an answer later counts as missing)
CONNECT_ERRORS = (socketio.exceptions.SocketIOError, aiohttp.ClientError, OSError, TimeoutError)


def backoff(attempt: int) -> float:
    """socket.io-client's reconnection delay as frontdesk's widget sets it."""
    delay = min(1.0 * 2**attempt, 15.0)
    return float(delay * (1 + random.uniform(-0.75, 0.75)))


@dataclass
class Exchange:
    """One customer message and its answer, with when each happened (monotonic seconds)."""

    client_msg_id: str
    started: float
    seq: int = 0
    acked: float = 0.0
    ended: float = 0.0  # 0: never answered
    disturbed: bool = False  # a resend, a refusal or a reconnect on the way


@dataclass
class Reconnect:
    at: float  # when the session was confirmed again
    same_id: bool


class Customer:
    """A widget on its own client address, in one conversation for the whole test."""

    def __init__(self, url: str, source: str, answer_kind: str = "bot") -> None:
        self.client = WidgetClient(url, source=source)
        self.source = source
        self.answer_kind = answer_kind  # "bot", or "agent" once an agent has the conversation
        self.conversation_id = ""
        self.exchanges: list[Exchange] = []
        self.reconnects: list[Reconnect] = []
        self.dropped: list[tuple[float, str]] = []  # when and why the connection went
        self.lost = asyncio.Event()
        self.answers: dict[float, str] = {}  # seq -> sender kind, of every message seen
        self.client.sio.on("disconnect", self._lost)

    async def _lost(self, *reason: Any) -> None:
        self.dropped.append((time.monotonic(), str(reason[0]) if reason else "?"))
        self.lost.set()

    async def start(self) -> None:
        self._seen((await self.client.connect())["messages"])
        self.conversation_id = self.client.session_id

    def _seen(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            if message.get("role") != "customer" and "sender" in message:
                seq = message.get("seq")
                # Delivered while Redis was down (stored later): after the last message sent.
                at = self.last_seq + 0.5 if seq is None else float(seq)
                self.answers[at] = message["sender"]["kind"]

    @property
    def last_seq(self) -> int:
        return max((e.seq for e in self.exchanges), default=0)

    async def reconnect(self) -> None:
        """Open a new connection (nginx picks a live process) and resume the conversation."""
        await self.client.close()
        for attempt in range(12):
            await asyncio.sleep(backoff(attempt))
            self.lost.clear()
            try:
                history = await self._resume()
            except (*CONNECT_ERRORS, AssertionError):
                await self.client.close()
                continue
            self._seen(history["messages"])
            same = self.client.session_id == self.conversation_id
            self.reconnects.append(Reconnect(time.monotonic(), same))
            return
        raise AssertionError(f"{self.source} could not reconnect")

    async def _resume(self) -> dict[str, Any]:
        """Connect and ask for the conversation as frontdesk's widget does: a session_request
        refused (Redis failing over: store_unavailable; a limit) is asked again after its
        retry_after, jittered. The history after the last message sent."""
        client = self.client
        await client.sio.connect(client.base_url, transports=["websocket"])
        request = {
            "session_id": client.session_id,
            "resume_token": client.token,
            "last_seq": self.last_seq,
            "frontdesk": 1,
        }
        while True:
            ack = await client.sio.call("session_request", request, timeout=60)
            if not (isinstance(ack, dict) and ack.get("ok") is False):
                break
            error = ack["error"]
            assert error["code"] in ("store_unavailable", "rate_limited"), ack
            await asyncio.sleep(float(error.get("retry_after") or 1) * random.uniform(0.5, 1.5))
        confirmed = await client.next("session_confirm")
        token = await client.next("session_token")
        assert confirmed == token["session_id"] == client.session_id
        history: dict[str, Any] = await client.next("history")
        return history

    async def exchange(self, text: str) -> Exchange:
        done = Exchange(uuid.uuid4().hex, time.monotonic())
        self.exchanges.append(done)
        attempt = 0
        while not done.seq:
            if self.lost.is_set() or not self.client.sio.connected:
                done.disturbed = True
                await self.reconnect()
            try:
                ack = await self.client.say(text, client_msg_id=done.client_msg_id)
            except socketio.exceptions.SocketIOError:  # gone mid-call, or no ack in time
                done.disturbed = True
                continue
            if ack.get("ok"):
                done.seq, done.acked = int(ack["seq"]), time.monotonic()
                break
            error = ack["error"]
            assert error["code"] in ("store_unavailable", "rate_limited"), ack
            done.disturbed = True
            await asyncio.sleep(float(error.get("retry_after") or backoff(attempt)))
            attempt += 1
        deadline = time.monotonic() + ANSWER_WITHIN
        while not self._answered(done.seq):
            if self.lost.is_set() or not self.client.sio.connected:
                done.disturbed = True
                await self.reconnect()
                continue
            message = await self._next_message(deadline - time.monotonic())
            if message is None:
                if time.monotonic() >= deadline:
                    return done  # never answered (counted by the test)
                continue
            self._seen([message])
        done.ended = time.monotonic()
        return done

    def _answered(self, seq: int) -> bool:
        return any(s > seq and k == self.answer_kind for s, k in self.answers.items())

    async def _next_message(self, timeout: float) -> dict[str, Any] | None:
        """The next bot_uttered, or None when the connection is lost or the time is up."""
        if timeout <= 0:
            return None
        get = asyncio.ensure_future(self.client.queues["bot_uttered"].get())
        lost = asyncio.ensure_future(self.lost.wait())
        finished, _ = await asyncio.wait(
            {get, lost}, timeout=timeout, return_when="FIRST_COMPLETED"
        )
        for task in (get, lost):
            if task not in finished:
                task.cancel()
        if get in finished:
            message: dict[str, Any] = get.result()
            return message
        return None


@dataclass
class Agent:
    """An agent's console on its own client address, answering every customer message of
    her cases; after a lost connection she reconnects and answers what she missed. A
    case_message whose seq is more than one past the highest she has seen in the case (one was
    lost on its way) makes her open the case and answer it as after a reconnection; a reply
    whose ack never came is checked and sent again (`owed`) after the console's back-off."""

    url: str
    token: str
    source: str
    cases: dict[str, str] = field(default_factory=dict)  # case id -> conversation id
    reconnects: list[Reconnect] = field(default_factory=list)
    kept_cases: list[bool] = field(default_factory=list)  # per reconnect: all cases still hers
    client: AgentClient | None = None
    task: asyncio.Task[None] | None = None
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    seen: dict[str, set[int]] = field(default_factory=dict)  # case id -> seqs she has seen
    owed: set[str] = field(default_factory=set)  # cases whose last reply failed
    retries: int = 0  # failed rounds of sending owed replies again, in a row
    gaps: int = 0  # case_messages that showed one before them was lost

    async def start(self) -> None:
        await self._connect()
        self.task = asyncio.create_task(self._work())

    async def _connect(self) -> dict[str, Any]:
        self.client = AgentClient(self.url, self.token, source=self.source)
        self.client.sio.on("disconnect", self._lost, namespace="/agent")
        self.lost.clear()
        return await self.client.connect()

    async def _lost(self, *reason: Any) -> None:
        self.lost.set()

    async def claim(self, case_id: str, conversation_id: str) -> None:
        """Take the case; "not_ready" (the case is in the line a moment before its customer
        is: the quote goes out first) is tried again, as the console tells the agent to."""
        assert self.client is not None
        async with asyncio.timeout(30):
            while True:
                claimed = await self.client.call("claim", {"case_id": case_id})
                error = claimed.get("error") or {}
                if claimed["ok"] or error.get("code") != "not_ready":
                    break
                await asyncio.sleep(0.1)
        assert claimed["ok"], claimed
        self.cases[case_id] = conversation_id
        self._saw(case_id, claimed["case"]["transcript"])

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.client is not None:
            await self.client.close()

    def _saw(self, case_id: str, entries: list[dict[str, Any]]) -> None:
        self.seen.setdefault(case_id, set()).update(
            int(e["seq"]) for e in entries if e.get("seq") is not None
        )

    async def _work(self) -> None:
        while True:
            assert self.client is not None
            get = asyncio.ensure_future(self.client.queues["case_message"].get())
            lost = asyncio.ensure_future(self.lost.wait())
            # A reply owed is sent again after the console's back-off, if nothing comes first.
            self.retries = self.retries if self.owed else 0
            wait = backoff(self.retries) if self.owed else None
            try:
                await asyncio.wait({get, lost}, timeout=wait, return_when="FIRST_COMPLETED")
            finally:
                get.cancel()
                lost.cancel()
            if lost.done() and not lost.cancelled():
                await self._come_back()
            elif get.done() and not get.cancelled():
                await self._heard(get.result())
            elif self.owed:
                for case_id in sorted(self.owed):
                    await self._catch_up(case_id)
                self.retries = self.retries + 1 if self.owed else 0

    async def _heard(self, message: dict[str, Any]) -> None:
        """A case_message: answer a customer's; one that leaves a gap (or comes while a reply
        is owed) is answered from the case as the console shows it after fetching it again."""
        case_id, entry = message["case_id"], message["entry"]
        if case_id not in self.cases:
            return
        seq, known = entry.get("seq"), self.seen.get(case_id) or {0}
        if seq is not None and int(seq) in known:
            return  # seen already (fetched with the case, or said twice): answered if owed
        gap = seq is not None and case_id in self.seen and int(seq) > max(known) + 1
        self._saw(case_id, [entry])
        if gap:
            self.gaps += 1
        if gap or case_id in self.owed:
            await self._catch_up(case_id)
        elif entry.get("role") == "customer":
            try:
                await self._reply(case_id, entry)
            except socketio.exceptions.SocketIOError:  # no ack: stored or not, checked later
                self.owed.add(case_id)

    async def _come_back(self) -> None:
        """Reconnect (the console's back-off), check the cases, answer what was missed."""
        assert self.client is not None
        await self.client.close()
        for attempt in range(12):
            await asyncio.sleep(backoff(attempt))
            try:
                await self._connect()
                break
            except CONNECT_ERRORS:
                assert self.client is not None
                await self.client.close()
        else:
            raise AssertionError(f"agent {self.source} could not reconnect")
        assert self.client is not None
        mine = await self.client.next("my_cases")
        held = {item["case_id"] for item in mine["items"]}
        self.kept_cases.append(set(self.cases) <= held)
        self.reconnects.append(Reconnect(time.monotonic(), True))
        for case_id in self.cases:
            await self._catch_up(case_id)

    async def _catch_up(self, case_id: str) -> None:
        """Open the case and answer its last customer message unless an agent's reply follows
        it (so a reply that was stored although its ack was lost is not sent twice). Without
        an answer from the gateway (a lost connection, no ack in time) the reply stays owed."""
        self.owed.discard(case_id)
        try:
            view = await self._call("open_case", {"case_id": case_id})
            transcript = view["case"]["transcript"]
            self._saw(case_id, transcript)
            waiting = [e for e in transcript if e["role"] in ("customer", "agent")]
            if waiting and waiting[-1]["role"] == "customer":
                await self._reply(case_id, waiting[-1])
        except socketio.exceptions.SocketIOError:
            self.owed.add(case_id)

    async def _reply(self, case_id: str, entry: dict[str, Any]) -> None:
        text = f"About “{entry['text']}”: done."
        sent = await self._call("reply", {"case_id": case_id, "text": text})
        self._saw(case_id, [sent])

    async def _call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """An action, again after `store_unavailable` (Redis failing over)."""
        assert self.client is not None
        for attempt in range(10):
            result = await self.client.call(event, data)
            if result["ok"]:
                return result
            assert result["error"]["code"] == "store_unavailable", result
            await asyncio.sleep(backoff(attempt))
        raise AssertionError(f"{event} failed: {result}")
