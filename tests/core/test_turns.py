"""Every acknowledged message gets an answer or an honest failure: turns are recorded until
answered, a dead process's turns are adopted, an unanswered resend runs again, and a reply the
store cannot take right now is delivered and stored later."""

from __future__ import annotations

import asyncio
from typing import Any

from frontdesk.core.messages import Inbound
from frontdesk.errors import StoreUnavailable
from frontdesk.store.base import AppendResult
from tests.core.conftest import TEMPLATES, Desk, faq


async def test_a_turn_is_recorded_until_answered(desk: Desk) -> None:
    await desk.open("c1")
    desk.bot.script["invoice"] = faq("billing/invoice_copy")
    await desk.say("c1", "invoice")
    await asyncio.sleep(0)  # the finishing write runs in the background
    await _drained(desk)
    assert desk.turns.turns == {}


async def test_turns_of_a_process_that_died_are_answered_by_another(desk: Desk) -> None:
    await desk.open("c1")
    desk.bot.script["invoice"] = faq("billing/invoice_copy", text="Here is your invoice.")
    await desk.store.append("c1", {"role": "customer", "text": "invoice", "ts": 1.0}, "m1")
    turn = {"owner": "crashed", "at": 1.0, "channel": "widget", "text": "invoice"}
    await desk.turns.begin("c1", 1, turn)
    await desk.turns.beat("alive-elsewhere", 10)
    assert await desk.core.router.adopt_orphans() == 1
    await desk.core.router.idle()
    assert desk.screen.texts("c1") == ["Here is your invoice."]
    await _drained(desk)
    assert desk.turns.turns == {}
    assert await desk.core.router.adopt_orphans() == 0  # once


async def test_turns_of_a_live_process_are_left_alone(desk: Desk) -> None:
    await desk.open("c1")
    await desk.turns.begin("c1", 1, {"owner": "busy", "channel": "widget", "text": "hi"})
    await desk.turns.beat("busy", 10)
    assert await desk.core.router.adopt_orphans() == 0


async def test_a_resend_of_an_unanswered_message_runs_its_turn_once(desk: Desk) -> None:
    await desk.open("c1")
    desk.bot.script["invoice"] = faq("billing/invoice_copy", text="Here is your invoice.")
    # Stored, but the process died before recording the turn (or before answering it).
    await desk.store.append("c1", {"role": "customer", "text": "invoice", "ts": 1.0}, "m1")
    inbound = Inbound("c1", "widget", "invoice", client_msg_id="m1")
    accepted = await desk.core.router.accept(inbound)
    await desk.core.router.idle()
    assert accepted.duplicate and desk.screen.texts("c1") == ["Here is your invoice."]
    again = await desk.core.router.accept(inbound)  # answered now: nothing runs again
    await desk.core.router.idle()
    assert again.duplicate and desk.screen.texts("c1") == ["Here is your invoice."]


async def test_a_turn_that_keeps_failing_ends_with_an_honest_message(desk: Desk) -> None:
    await desk.open("c1")
    turn = {"owner": "crashed", "channel": "widget", "text": "invoice", "attempts": 3}
    await desk.turns.begin("c1", 1, turn)
    await desk.core.router.adopt_orphans()
    await desk.core.router.idle()
    assert desk.screen.texts("c1") == [TEMPLATES.render("en", "turn_failed")]


async def test_a_reply_the_store_cannot_take_is_delivered_and_stored_later(
    desk: Desk, monkeypatch: Any
) -> None:
    await desk.open("c1")
    desk.bot.script["invoice"] = faq("billing/invoice_copy", text="Here is your invoice.")
    real_append = desk.store.append
    down = {"on": False}

    async def append(*args: Any, **kwargs: Any) -> AppendResult:
        if down["on"] and args[1].get("role") != "customer":
            raise StoreUnavailable("Redis is down")
        return await real_append(*args, **kwargs)

    monkeypatch.setattr(desk.store, "append", append)
    monkeypatch.setattr("frontdesk.core.outbox.STORE_RETRIES", (0.0,))
    down["on"] = True
    await desk.say("c1", "invoice")
    (delivered,) = [d for c, kind, d in desk.screen.sent if kind == "message"]
    assert delivered["text"] == "Here is your invoice." and "seq" not in delivered
    down["on"] = False
    await _drained(desk)
    texts = [e["text"] for e in await desk.store.history("c1")]
    assert texts == ["invoice", "Here is your invoice."]


async def _drained(desk: Desk) -> None:
    worker = desk.core.later._worker
    if worker is not None:
        await worker
