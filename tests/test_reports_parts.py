"""The reports' parts on their own: percentiles from buckets, grouping by wording, periods, and
left messages answered by e-mail (the aggregator on real Redis, with the case records the
offline inbox writes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from frontdesk.agents_cli import manage_agents
from frontdesk.core.events import CaseClosed
from frontdesk.errors import BadInput, ConfigError
from frontdesk.reports import Filters, Reports
from frontdesk.reports.buckets import EDGES, bucket_of, duration_text, percentile
from frontdesk.reports.contacts import attribute
from frontdesk.reports.period import Period
from frontdesk.reports.similar import group
from frontdesk.reports.training import clean_example, read_learned, render_learned
from frontdesk.store import RedisStore
from frontdesk.store.cases import CaseStore
from tests.conftest import make_settings

NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC).timestamp()


def test_percentiles_are_the_upper_edge_of_the_nearest_rank_bucket() -> None:
    waits = [22, 95]
    counts: dict[int, int] = {}
    for seconds in waits:
        counts[bucket_of(seconds)] = counts.get(bucket_of(seconds), 0) + 1
    assert percentile(counts, 0.5) == 25 and percentile(counts, 0.9) == 105
    ten = {bucket_of(s): 1 for s in (1, 2, 3, 4, 5, 6, 7, 8, 9.5, 600)}
    assert percentile(ten, 0.5) == 5 and percentile(ten, 0.9) == 10 and percentile(ten, 1) == 600
    assert percentile({}, 0.5) is None
    assert bucket_of(-3) == 0 and bucket_of(10**9) == len(EDGES)
    assert percentile({len(EDGES): 2}, 0.5) == EDGES[-1]  # beyond a week: "at least a week"
    assert [duration_text(s) for s in (None, 45, 200, 3600, 5400, 2 * 86_400)] == [
        "\u2013",
        "45 s",
        "3 min 20 s",
        "1 h",
        "1 h 30 min",
        "2 d",
    ]


def test_messages_are_grouped_by_similar_wording() -> None:
    texts = [
        "Where is my invoice?",
        "i need the invoice for my order",
        "Can I get a copy of my invoices please",
        "where is my parcel",
        "¿Dónde está mi factura?",
        "мне нужен счёт",
        "нужен счет за заказ",
    ]
    groups = group(texts, lambda t: t)
    assert groups == [
        ["Where is my invoice?", "i need the invoice for my order",
         "Can I get a copy of my invoices please"],
        ["where is my parcel"],
        ["¿Dónde está mi factura?"],
        ["мне нужен счёт", "нужен счет за заказ"],
    ]  # fmt: skip


def test_handoff_reasons_are_attributed_to_what_the_bot_did_last() -> None:
    assert attribute("customer_asked", "rated_no") == "not_answered"
    assert attribute("customer_asked", "declined") == "bot_failed"
    assert attribute("customer_asked", "answered") == "customer_asked"
    assert attribute("customer_asked", "") == "customer_asked"
    assert attribute("topic", "declined") == "topic"
    assert attribute("complaint", "rated_no") == "complaint"
    assert attribute("not_understood", "") == "bot_failed"


def test_periods() -> None:
    today = dt.date(2026, 3, 10)
    assert Period.parse("today", "", "", today).days() == ["2026-03-10"]
    week = Period.parse("7d", "", "", today)
    assert (week.start, week.end, len(week.days())) == (dt.date(2026, 3, 4), today, 7)
    assert len(Period.parse("30d", "", "", today).days()) == 30
    custom = Period.parse("custom", "2026-02-28", "2026-02-27", today)
    assert custom.days() == ["2026-02-27", "2026-02-28"]
    for bad in (("custom", "2026-02-30", "2026-03-01"), ("custom", "2024-01-01", "2026-01-01")):
        with pytest.raises(BadInput):
            Period.parse(*bad, today)
    with pytest.raises(BadInput):
        Period.parse("year", "", "", today)


def test_learned_examples_keep_rasa_format() -> None:
    assert clean_example("  where's my [bill]\n for order {1042}  ") == (
        "where's my (bill) for order {1042}"
    )
    text = render_learned({"billing/invoice_copy": ["a: b", "#not a comment", "«x»"]})
    assert text.startswith('version: "3.1"\n')
    assert "- intent: billing/invoice_copy\n  examples: |\n    - a: b\n" in text


def test_learned_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "learned.yml"
    examples = {"orders/status": ["where is it", "status?"], "billing/vat_receipt": ["vat"]}
    path.write_text(render_learned(examples), encoding="utf-8")
    assert read_learned(path) == examples


@pytest.fixture
async def reports(redis_url: str, tmp_path: Path) -> AsyncIterator[Reports]:
    redis = Redis.from_url(redis_url)
    yield Reports(
        redis, CaseStore(redis), RedisStore(redis), ZoneInfo("UTC"), tmp_path, clock=lambda: NOON
    )
    await redis.aclose()


async def test_left_messages_answered_by_email_in_time_or_late(reports: Reports) -> None:
    promised = NOON + 3600

    async def message(case_id: str, **fields: str) -> None:
        record = {
            "id": case_id,
            "conversation_id": f"conv-{case_id}",
            "requested_at": f"{NOON - 600:.3f}",
            "channel": "widget",
            "language": "en",
            "area": "orders",
            "agent": "maria",
            "state": "closed",
            "promised_reply_at": f"{promised:.0f}",
            "closed_at": f"{NOON:.3f}",
            **fields,
        }
        await reports.cases.create(case_id, record, f"conv-{case_id}", kind="message")
        await reports.aggregator.closed(CaseClosed(case_id, f"conv-{case_id}", "maria"))

    await message("in-time", answered_at=f"{promised - 60:.3f}")
    await message("late", answered_at=f"{promised + 60:.3f}")
    await message("mailbox", closed_without_reply="1")
    # The same close reported twice (or by two processes) counts once.
    await reports.aggregator.closed(CaseClosed("in-time", "conv-in-time", "maria"))

    period = reports.period("today")
    table = (await reports.figures(period, Filters(), team=True)).table("messages")
    assert table is not None
    assert table.columns == [
        "Day",
        "Messages left",
        "Answered",
        "Answered in time",
        "Closed without a reply",
        "Answered in time %",
    ]
    assert table.rows[-1] == ["Total", 0, 2, 1, 1, 50.0]
    mine = await reports.figures(period, Filters(agent="maria"), team=False)
    assert mine.table("messages").rows[-1] == ["Total", 2, 1, 1, 50.0]  # type: ignore[union-attr]
    other = await reports.figures(period, Filters(agent="omar", area="orders"), team=False)
    assert other.table("messages").rows[-1] == ["Total", 0, 0, 0, None]  # type: ignore[union-attr]


async def test_agents_get_a_role_from_the_command_line(redis_url: str, tmp_path: Path) -> None:
    settings = make_settings(redis_url, "http://127.0.0.1:9", tmp_path)
    saved = await manage_agents(settings, "add", "lena", password="long enough", role="lead")
    assert saved == "agent 'lena' saved (lena, lead)"
    # Updating an account keeps its role unless a new one is given; new accounts are agents.
    await manage_agents(settings, "add", "lena", "Lena", password="long enough")
    await manage_agents(settings, "add", "maria", password="long enough")
    listed = await manage_agents(settings, "list")
    assert listed.splitlines() == [
        "lena\tLena\tlead\tcapacity default",
        "maria\tmaria\tagent\tcapacity default",
    ]
    with pytest.raises(ConfigError, match="a role is one of agent, lead, admin"):
        await manage_agents(settings, "add", "omar", password="long enough", role="boss")


async def test_forgetting_a_customer_erases_their_words_from_the_reports(reports: Reports) -> None:
    (reports.training.data_dir / "faq_billing.yml").write_text(
        "nlu:\n- intent: billing/invoice_copy\n  examples: |\n    - invoice\n"
    )
    for conversation, seq in (("ann", 3), ("ann", 5), ("bob", 3)):
        words = f"{conversation} asks thing {seq}"
        await reports.unanswered.add(conversation, seq, words, "", 0.1, "unsure", "widget", "en")
    groups = await reports.unanswered.open_groups()
    ann = next(i for g in groups for i in g if i["text"] == "ann asks thing 3")
    await reports.unanswered.attach(ann["id"], "billing/invoice_copy", "my invoice", "lena")
    assert len(await reports.training.pending()) == 1

    assert await reports.forget("ann") == 2
    left = [i["text"] for g in await reports.unanswered.open_groups() for i in g]
    assert left == ["bob asks thing 3"]
    assert await reports.training.pending() == []
    assert await reports.unanswered.get(ann["id"]) == {}


async def test_customers_forget_erases_report_words_and_unsent_answers(
    redis_url: str, tmp_path: Path
) -> None:
    """The right to erasure reaches what the reports and the mail outbox keep."""
    from frontdesk.customers_cli import manage_customers
    from frontdesk.files.storage import FilePolicy, FileStore
    from frontdesk.store.mail import MailStore, mail_key
    from tests.conftest import make_settings

    settings = make_settings(redis_url, "http://127.0.0.1:9", tmp_path, BOT_DATA_DIR=str(tmp_path))
    redis = Redis.from_url(redis_url)
    try:
        store = RedisStore(redis)
        await store.create_conversation("zoe", {"channel": "widget", "state": "bot"})
        await store.append("zoe", {"role": "customer", "text": "hola", "ts": NOON})
        fields = {"id": "case-z", "conversation_id": "zoe", "requested_at": f"{NOON}"}
        await CaseStore(redis).create("case-z", {**fields, "state": "closed"}, "zoe", "message")
        await MailStore(redis).enqueue("case-z", {"to": "zoe@example.com", "text": "Hi"}, NOON)
        reports = Reports(redis, CaseStore(redis), store, ZoneInfo("UTC"), tmp_path)
        await reports.unanswered.add("zoe", 1, "hola", "", 0.1, "unsure", "widget", "es")
        files = FileStore(settings.files_dir, FilePolicy(10_000, ("image/png",)))
        png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
        photo = await files.save(png, "damage.png", "zoe")
        other = await files.save(png, "mine.png", "someone-else")

        text, code = await manage_customers(settings, "forget", "zoe")
        assert code == 0, text
        assert "could-not-answer" in text and mail_key("case-z") in text
        assert not await redis.exists(mail_key("case-z"))
        assert [i for g in await reports.unanswered.open_groups() for i in g] == []
        assert await files.get(photo.id) is None and f"file {photo.id}" in text
        assert await files.get(other.id) is not None
    finally:
        await redis.aclose()
