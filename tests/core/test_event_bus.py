"""The event bus: listeners nobody waits for run off the publisher's path, in publish order,
and nothing is dropped when they fall behind."""

from __future__ import annotations

import asyncio

from frontdesk.core.events import AnswerRated, BotAnswered, CaseQueued, Event, EventBus


def answered(seq: int) -> BotAnswered:
    return BotAnswered("c1", "widget", "en", "billing/invoice_copy", 0.9, seq)


async def test_background_listeners_run_after_publish_returns_in_publish_order() -> None:
    bus = EventBus()
    seen: list[tuple[str, int]] = []
    gate = asyncio.Event()

    async def counted(event: Event) -> None:
        await gate.wait()  # a slow Redis: the publisher must not wait for it
        seen.append((type(event).__name__, getattr(event, "seq", 0)))

    bus.subscribe(BotAnswered, counted, background=True)
    bus.subscribe(AnswerRated, counted, background=True)
    await bus.publish(answered(1))
    await bus.publish(AnswerRated("billing/invoice_copy", False, "c1", 1))
    await bus.publish(answered(3))
    assert seen == []  # published, not handled yet: the reply went on
    gate.set()
    await bus.settled()
    assert seen == [("BotAnswered", 1), ("AnswerRated", 1), ("BotAnswered", 3)]


async def test_inline_listeners_still_run_before_publish_returns() -> None:
    bus = EventBus(background_delay=0)
    order: list[str] = []

    async def inline(event: CaseQueued) -> None:
        order.append("inline")
        await bus.publish(answered(2))  # a listener publishing: keeps its place in line

    async def background(event: Event) -> None:
        order.append(type(event).__name__)

    bus.subscribe(CaseQueued, inline)
    bus.subscribe(CaseQueued, background, background=True)
    bus.subscribe(BotAnswered, background, background=True)
    await bus.publish(CaseQueued("case1", "c1", "customer_asked"))
    assert order == ["inline"]
    await bus.settled()
    assert order == ["inline", "BotAnswered", "CaseQueued"]  # as when all ran inline


async def test_a_full_queue_makes_the_publisher_wait_and_drops_nothing() -> None:
    bus = EventBus(max_background=3, background_delay=0)
    seen: list[int] = []

    async def slow(event: BotAnswered) -> None:
        await asyncio.sleep(0)
        seen.append(event.seq)

    bus.subscribe(BotAnswered, slow, background=True)
    for seq in range(1, 51):
        await bus.publish(answered(seq))
        assert len(bus) <= 3
    await bus.settled()
    assert seen == list(range(1, 51))


async def test_a_failing_background_listener_does_not_stop_the_next_events() -> None:
    bus = EventBus(background_delay=0)
    seen: list[int] = []

    async def fragile(event: BotAnswered) -> None:
        if event.seq == 1:
            raise RuntimeError("boom")
        seen.append(event.seq)

    bus.subscribe(BotAnswered, fragile, background=True)
    await bus.publish(answered(1))
    await bus.publish(answered(2))
    await bus.settled()
    assert seen == [2]


async def test_settled_returns_at_once_when_nothing_waits_and_from_a_listener() -> None:
    bus = EventBus()
    await asyncio.wait_for(bus.settled(), 1)
    inner: list[bool] = []

    async def listener(event: BotAnswered) -> None:
        await bus.settled()  # does not wait for itself
        inner.append(True)

    bus.subscribe(BotAnswered, listener, background=True)
    await bus.publish(answered(1))
    await asyncio.wait_for(bus.settled(), 5)
    assert inner == [True]
