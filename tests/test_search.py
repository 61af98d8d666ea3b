"""Search over every conversation, through the real gateway on real Redis and the real Rasa: the
words said in English, Russian and Spanish found in other forms of the same word, e-mail
addresses, order numbers and ids; filters; what a plain agent may find and open; erasure;
rebuilding the index; and two machines (two DATA_DIRs on one Redis) each finding everything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from frontdesk.app import make_app
from frontdesk.config import Settings
from frontdesk.customers_cli import manage_customers
from frontdesk.keys import STORE
from tests.conftest import make_settings
from tests.search_support import caught_up, clients, consoles, handed_to, say

__all__ = ["clients", "consoles"]  # the fixtures


async def test_words_are_found_in_every_language_whatever_their_form(
    gateway: TestServer, clients: list[Any], consoles: Callable[..., Any]
) -> None:
    english = await say(gateway, clients, "I never got my refunds for order 5521")
    russian = await say(gateway, clients, "Где моя посылка? Заказ 7731 так и не пришёл")
    spanish = await say(gateway, clients, "Quiero devolver los zapatos del pedido 8890")
    mail = await say(gateway, clients, "my address is ann.lee@example.com, please write")
    await caught_up(gateway)
    lena = await consoles(gateway, "lena", "lead")

    assert await lena.found("refund") == [english.session_id]
    assert await lena.found("посылку") == [russian.session_id]  # another case of the word
    assert await lena.found("пришел") == [russian.session_id]  # written with YO, typed with IE
    assert await lena.found("zapato") == [spanish.session_id]
    assert await lena.found("ZAPATOS pedidos") == [spanish.session_id]
    assert await lena.found("7731") == [russian.session_id]  # an order number
    assert await lena.found("ann.lee@example.com") == [mail.session_id]
    assert await lena.found(spanish.session_id) == [spanish.session_id]
    assert await lena.found("refund посылка") == []  # every word must be found
    _, page = await lena.get("/console/search", q="посылки")
    assert "<mark>посылка</mark>" in page
    assert "Russian" in page and "Website" in page


async def test_filters_narrow_the_results(
    gateway: TestServer, clients: list[Any], consoles: Callable[..., Any]
) -> None:
    bot_only = await say(gateway, clients, "how long does a refund take", language="en")
    with_maria = await say(gateway, clients, "my refund is missing")
    await handed_to(gateway, clients, "maria", with_maria, "I will send the refund today")
    await caught_up(gateway)
    lena = await consoles(gateway, "lena", "lead")

    both = {bot_only.session_id, with_maria.session_id}
    assert set(await lena.found("refund")) == both
    assert await lena.found("refund", agent="maria") == [with_maria.session_id]
    assert await lena.found("refund", state="agent") == [with_maria.session_id]
    assert await lena.found("refund", channel="telegram") == []
    assert await lena.found("refund", language="ru") == []
    assert set(await lena.found("refund", language="en", channel="widget")) == both
    today = dt.datetime.now(dt.UTC).date()
    assert set(await lena.found("refund", **{"from": today.isoformat()})) == both
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert await lena.found("refund", **{"from": tomorrow}) == []
    assert await lena.found("", agent="maria") == [with_maria.session_id]  # filters alone
    # The agent's own words are searched too.
    assert await lena.found("today") == [with_maria.session_id]
    status, _ = await lena.get("/console/search", q="x", channel="fax")
    assert status == 400


async def test_a_plain_agent_finds_only_her_cases_and_the_waiting_customers(
    gateway: TestServer, clients: list[Any], consoles: Callable[..., Any]
) -> None:
    mine = await say(gateway, clients, "the parcel is damaged")
    theirs = await say(gateway, clients, "the parcel never came")
    bot_only = await say(gateway, clients, "where is my parcel")
    await handed_to(gateway, clients, "maria", mine, "Sorry about the parcel")
    await handed_to(gateway, clients, "olga", theirs, "Let me look at the parcel")
    waiting = await say(gateway, clients, "my parcel is lost")
    await waiting.say("/human_handoff", title="Talk to a person")
    await waiting.answer()
    await caught_up(gateway)

    maria = await consoles(gateway, "maria")
    assert set(await maria.found("parcel")) == {mine.session_id, waiting.session_id}
    assert await maria.found("parcel", agent="olga") == []  # a filter never widens
    path = f"/console/search/conversation/{mine.session_id}"
    status, page = await maria.get(path)
    assert status == 200 and "Sorry about the parcel" in page and "the parcel is damaged" in page
    assert "Case " in page  # the case card above the transcript
    for other in (theirs, bot_only):
        status, page = await maria.get(f"/console/search/conversation/{other.session_id}")
        assert status == 403 and "Only leads and admins" in page

    lena = await consoles(gateway, "lena", "lead")
    assert set(await lena.found("parcel")) == {
        mine.session_id,
        theirs.session_id,
        bot_only.session_id,
        waiting.session_id,
    }
    status, page = await lena.get(f"/console/search/conversation/{theirs.session_id}")
    assert status == 200 and "Let me look at the parcel" in page


async def test_forgetting_a_customer_removes_them_from_the_search(
    gateway: TestServer, settings: Settings, clients: list[Any], consoles: Callable[..., Any]
) -> None:
    gone = await say(gateway, clients, "refund for ann.lee@example.com please")
    kept = await say(gateway, clients, "refund for bob@example.com please")
    await caught_up(gateway)
    lena = await consoles(gateway, "lena", "lead")
    assert set(await lena.found("refund")) == {gone.session_id, kept.session_id}

    text, code = await manage_customers(settings, "forget", "ann.lee@example.com")
    assert code == 0 and "search index" in text, text
    assert await lena.found("refund") == [kept.session_id]  # at once, on this machine
    assert await lena.found("ann.lee@example.com") == []
    await caught_up(gateway)  # and no later change brings it back
    assert await lena.found("refund") == [kept.session_id]


async def test_reindex_finds_conversations_stored_before_the_index(
    gateway: TestServer, settings: Settings, consoles: Callable[..., Any]
) -> None:
    await caught_up(gateway)  # the index is made (a new one is built from what is stored)
    store = gateway.app[STORE]  # stored without any event: as before search existed
    await store.create_conversation("old-1", {"channel": "telegram", "language": "es"})
    await store.append("old-1", {"ts": 1.0, "role": "customer", "text": "¿Dónde está mi pedido?"})
    await caught_up(gateway)
    lena = await consoles(gateway, "lena", "lead")
    assert await lena.found("pedidos") == []

    text, code = await manage_customers(settings, "reindex")
    assert code == 0, text
    assert await lena.found("pedidos") == ["old-1"]
    assert await lena.found("pedido", channel="telegram", language="es") == ["old-1"]


async def test_every_machine_finds_every_conversation_and_forgets_it(
    redis_url: str,
    rasa_url: str,
    tmp_path: Path,
    aiohttp_server: Callable[..., Any],
    clients: list[Any],
    consoles: Callable[..., Any],
) -> None:
    machines = []
    for name in ("a", "b"):  # one Redis, two DATA_DIRs: two machines
        (tmp_path / name).mkdir()
        settings = make_settings(redis_url, rasa_url, tmp_path / name, SOCKETIO_REDIS="on")
        machines.append(await aiohttp_server(make_app(settings)))
    a, b = machines
    customer = await say(a, clients, "Mi reembolso no ha llegado")
    await caught_up(a, b)
    on_b = await consoles(b, "lena", "lead")
    assert await on_b.found("reembolsos") == [customer.session_id]

    text, code = await manage_customers(
        make_settings(redis_url, rasa_url, tmp_path / "a"), "forget", customer.session_id
    )
    assert code == 0, text
    await caught_up(b)
    assert await on_b.found("reembolsos") == []
