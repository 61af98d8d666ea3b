"""Retention and erasure against a real redis-server: empty conversations expire, old closed ones
are swept (never a waiting one), and `customers forget` erases one customer and nobody else.

Rasa is not needed: the data is written through the stores the gateway uses."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from frontdesk.config import ROOT
from frontdesk.store.cases import CaseStore
from frontdesk.store.redis import RedisStore
from frontdesk.store.retention import DAY, CustomerActive, Retention
from tests.support import WidgetClient

NOW = 1_750_000_000.0  # the sweep's "now": no waiting for a year to pass


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def keys(redis: Redis) -> set[str]:
    return {k.decode() async for k in redis.scan_iter(count=1000)}


async def conversation(
    store: RedisStore,
    cases: CaseStore,
    conversation_id: str,
    at: float,
    email: str = "",
    case: str = "",  # "", "closed", "queued", "agent"
) -> None:
    """A customer's conversation as the gateway leaves it: opened, a message each way, and
    optionally a handoff case (closed by an agent with a note, waiting, or with an agent)."""
    details = {"customer_email": email, "customer_name": conversation_id} if email else {}
    fields = {"channel": "widget", "language": "en", "state": "bot", "created_at": f"{at}"}
    await store.create_conversation(conversation_id, {**fields, **details})
    await store.append(conversation_id, {"ts": at, "role": "customer", "text": "hi"}, "m1")
    await store.append(conversation_id, {"ts": at + 1, "role": "bot", "text": "Hello!"})
    if not case:
        return
    case_id = f"case-{conversation_id}"
    case_fields = {"id": case_id, "conversation_id": conversation_id, "state": "queued"}
    await cases.create(
        case_id, {**case_fields, **details, "requested_at": f"{at + 2}"}, conversation_id
    )
    await store.transition(conversation_id, ["bot"], {"state": "queued", "case_id": case_id})
    if case == "queued":
        return
    assert await cases.claim(case_id, "maria", 5, now=at + 3) == 1
    await store.transition(conversation_id, ["queued"], {"state": "agent", "agent": "maria"})
    await cases.add_note(case_id, {"agent": "maria", "text": "refund promised", "ts": at + 4})
    if case == "agent":
        return
    await cases.release(case_id, "maria", {"state": "closed", "closed_at": f"{at + 5}"})
    await store.transition(conversation_id, ["agent"], {"state": "bot", "case_id": ""})


def of(conversation_id: str, everything: set[str]) -> set[str]:
    """The keys that are this conversation's alone (its own keys, its cases and notes)."""
    return {
        k
        for k in everything
        if f"{{{conversation_id}}}" in k
        or k.startswith(f"fd:case:case-{conversation_id}")
        or k == f"fd:customer:{conversation_id}:cases"
    }


async def members(redis: Redis, key: str) -> set[str]:
    kind = (await redis.type(key)).decode()
    if kind == "zset":
        return {m.decode() for m in await redis.zrange(key, 0, -1)}
    if kind == "set":
        return {m.decode() for m in await redis.smembers(key)}
    return set()


async def test_an_empty_conversation_expires_until_the_customer_writes(redis: Redis) -> None:
    store = RedisStore(redis)
    store.expire_empty_after(600)
    await store.create_conversation("c1", {"channel": "widget", "customer_email": "Ann@x.org"})
    # A gateway's own message (a greeting) does not keep it: it expires with the conversation.
    await store.append("c1", {"ts": 1.0, "role": "bot", "text": "Hi! How can I help?"})
    own = ["fd:conv:{c1}", "fd:conv:{c1}:log", "fd:conv:{c1}:emails"]
    assert await keys(redis) == {*own, "fd:email:ann@x.org"}
    for key in own:
        assert 0 < await redis.ttl(key) <= 600, key
    # Opening it again while still empty starts the TTL over; it stays empty.
    await redis.expire("fd:conv:{c1}", 100)
    assert not await store.create_conversation("c1", {"channel": "widget"})
    assert await redis.ttl("fd:conv:{c1}") > 100
    # The first customer message keeps it (and its transcript, client ids, addresses).
    await store.append("c1", {"ts": 2.0, "role": "customer", "text": "Where is my order?"}, "m1")
    for key in [*own, "fd:conv:{c1}:cmid"]:
        assert await redis.ttl(key) == -1, key
    # A conversation with a customer message never gets one back.
    await store.create_conversation("c1", {"channel": "widget"})
    assert await redis.ttl("fd:conv:{c1}") == -1


async def test_a_gateway_conversation_without_a_message_expires(
    offline_gateway: Callable[..., Any], redis: Redis
) -> None:
    """EMPTY_CONVERSATION_TTL reaches the gateway: 10,000 widget loads no longer leave 10,000
    permanent conversations."""
    server: TestServer = await offline_gateway(EMPTY_CONVERSATION_TTL="3600")
    base = str(server.make_url("/")).rstrip("/")
    idle, talking = WidgetClient(base), WidgetClient(base)
    try:
        await idle.connect(custom={"customer_email": "idle@example.com"})
        await talking.connect()
        assert 0 < await redis.ttl(f"fd:conv:{{{idle.session_id}}}") <= 3600
        await talking.say("Where is my order?")
        await talking.answer()
        assert await redis.ttl(f"fd:conv:{{{talking.session_id}}}") == -1
        assert await redis.ttl(f"fd:conv:{{{talking.session_id}}}:log") == -1
    finally:
        await idle.close()
        await talking.close()


async def test_the_sweep_removes_old_closed_conversations_only(redis: Redis) -> None:
    store, cases = RedisStore(redis), CaseStore(redis)
    year_ago = NOW - 400 * DAY
    await conversation(store, cases, "old", year_ago, "old@example.com", case="closed")
    await conversation(store, cases, "old-chat", year_ago)  # the bot alone answered
    await conversation(store, cases, "recent", NOW - 10 * DAY, "new@example.com", case="closed")
    await conversation(store, cases, "waiting", year_ago, case="queued")
    await conversation(store, cases, "with-agent", year_ago, case="agent")
    # A widget load from before empty conversations expired: no message, no TTL.
    await redis.hset("fd:conv:{legacy}", mapping={"id": "legacy", "created_at": f"{NOW - 2 * DAY}"})
    before = await keys(redis)

    report = await Retention(store, cases, retention_days=365).sweep(now=NOW)

    assert sorted(e.conversation_id for e in report.removed) == ["old", "old-chat"]
    assert (report.active, report.expired) == (2, 1)
    gone = of("old", before) | of("old-chat", before) | {"fd:email:old@example.com"}
    gone |= {"fd:conv:{legacy}"}
    assert "fd:case:case-old:notes" in gone and "fd:conv:{old}:log" in gone
    assert await keys(redis) == before - gone
    assert await members(redis, "fd:cases:closed") == {"case-recent"}
    assert await members(redis, "fd:queue") == {"case-waiting"}
    assert await members(redis, "fd:agent:maria:cases") == {"case-with-agent"}
    # A second sweep finds nothing more; a year later the recent one goes too.
    assert not (await Retention(store, cases, 365).sweep(now=NOW)).removed
    later = await Retention(store, cases, 365).sweep(now=NOW + 360 * DAY)
    assert [e.conversation_id for e in later.removed] == ["recent"]


async def test_forget_by_email_and_by_id_erase_one_customer_only(redis: Redis) -> None:
    store, cases = RedisStore(redis), CaseStore(redis)
    retention = Retention(store, cases, 365)
    await conversation(store, cases, "ann-web", NOW, "Ann@Example.com", case="closed")
    # Ann again on Telegram, where the bot captured her address from what she typed.
    await conversation(store, cases, "telegram:42", NOW)
    captured = json.dumps({"email": "ann@example.com", "order_number": "1042"})
    await store.update_conversation("telegram:42", {"captured": captured})
    # ...and the bot forgets it when the topic ends: the index still knows.
    await store.transition("telegram:42", ["bot"], {"captured": ""})
    await conversation(store, cases, "bob-web", NOW, "bob@example.com", case="closed")
    # Bob left a message with an e-mail typed in the leave-a-message step.
    await store.transition("bob-web", ["bot"], {"state": "leave_message", "lm_email": "b@x.io"})
    before = await keys(redis)
    bobs = of("bob-web", before) | {"fd:email:bob@example.com", "fd:email:b@x.io"}

    shown = await retention.find("ANN@example.com")
    assert sorted(c.record.id for c in shown) == ["ann-web", "telegram:42"]
    erased = await retention.forget("ann@example.com")

    assert sorted(e.conversation_id for e in erased) == ["ann-web", "telegram:42"]
    after = await keys(redis)
    anns = of("ann-web", before) | of("telegram:42", before) | {"fd:email:ann@example.com"}
    assert after == before - anns
    assert bobs <= after
    assert await members(redis, "fd:cases:closed") == {"case-bob-web"}
    assert not await retention.find("ann@example.com")

    erased = await retention.forget("bob-web")
    assert [e.conversation_id for e in erased] == ["bob-web"]
    assert "fd:case:case-bob-web:notes" in erased[0].removed
    assert await keys(redis) == set()


async def test_forget_refuses_a_customer_who_is_waiting_unless_forced(redis: Redis) -> None:
    store, cases = RedisStore(redis), CaseStore(redis)
    await conversation(store, cases, "eve", NOW, "eve@example.com", case="queued")
    with pytest.raises(CustomerActive):
        await Retention(store, cases, 365).forget("eve@example.com")
    assert await members(redis, "fd:queue") == {"case-eve"}
    await Retention(store, cases, 365).forget("eve@example.com", force=True)
    assert await keys(redis) == set()


async def cli(redis_url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {**os.environ, "REDIS_URL": redis_url, "DATA_DIR": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "server.py"),
        "customers",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return int(proc.returncode or 0), out.decode()


async def test_the_customers_command_shows_and_forgets(
    redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    store, cases = RedisStore(redis), CaseStore(redis)
    await conversation(store, cases, "ann-web", NOW, "ann@example.com", case="closed")
    await conversation(store, cases, "bob-web", NOW, "bob@example.com", case="closed")
    bobs = of("bob-web", await keys(redis))

    code, out = await cli(redis_url, tmp_path, "show", "ann@example.com")
    assert code == 0, out
    assert "conversation ann-web (widget, state bot, 2 message(s)" in out
    assert "case case-ann-web: live, closed" in out and "agent maria, 1 note(s)" in out
    assert "bob" not in out

    code, out = await cli(redis_url, tmp_path, "forget", "ann@example.com")
    assert code == 0, out
    assert "removed conversation ann-web (1 case(s)):" in out
    for removed in ("fd:conv:{ann-web}", "fd:conv:{ann-web}:log", "fd:case:case-ann-web:notes"):
        assert f"  {removed}\n" in out
    assert "fd:cases:closed entry" in out
    assert {k for k in await keys(redis) if "ann" in k} == set()
    assert bobs <= await keys(redis)

    code, out = await cli(redis_url, tmp_path, "forget", "ann@example.com")
    assert (code, out.strip()) == (1, "nothing stored for 'ann@example.com'")
    code, out = await cli(redis_url, tmp_path, "show", "ann-web")
    assert code == 1
