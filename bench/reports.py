"""The reports bench: how long a 30-day report takes over a busy month, and what ingest costs.

Into a throwaway redis-server it writes 30 days of report aggregates for --per-day
conversations a day — by default twice: the issue's 100,000 conversations in 30 days, then
100,000 a day (3 million, the cells as numerous as they get) — spread over 3 channels,
3 languages, 6 FAQ areas (none included) and --agents agents, with realistic outcomes (about
60 % contained, a quarter handed off for the five reasons, log-normal waits and first responses,
CSAT/effort answers, why-tags, 36 FAQ answers with ratings). The aggregates are written with
the aggregator's own writer (ReportStore.write of its Batch): publishing 3 million conversations'
events one by one would take hours of the bench's time, not the report's. Ingest is timed
separately: --ingest conversations go through the real path — domain events published on an
EventBus the Reports aggregator subscribes to, with real case records — and the events/s and
the share of a core that 100,000 conversations a day would take are printed.

Then it times the 30-day report as /console/reports computes it (Reports.figures: every table
and tile, and the survey comments) without filters, for one agent, and for channel + language
(a filtered report scans the per-cell hashes with HSCAN MATCH), --repeat times each, and prints
the median and the slowest (goal: under a second).

    .venv/bin/python bench/reports.py [--per-day 3334,100000] [--ingest 3000] [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import Services, figure, print_header
from redis.asyncio import Redis

from frontdesk.core.events import (
    AgentReplied,
    AnswerRated,
    BotAnswered,
    BotDeclined,
    CaseAssigned,
    CaseClosed,
    CaseQueued,
    ConversationOpened,
    EventBus,
    SurveyAnswered,
    SurveyCommented,
)
from frontdesk.reports import Filters, Reports
from frontdesk.reports.buckets import bucket_of
from frontdesk.reports.contacts import REASONS
from frontdesk.reports.store import Batch, Dims
from frontdesk.reports.training import faq_answers
from frontdesk.store import RedisStore
from frontdesk.store.cases import CaseStore

BENCH = "reports"
UTC = ZoneInfo("UTC")
NOW = dt.datetime(2026, 3, 31, 18, 0, tzinfo=UTC).timestamp()
CHANNELS = (("widget", 6), ("telegram", 3), ("messenger", 1))
LANGUAGES = (("en", 6), ("es", 2), ("ru", 2))
AREAS = (("billing", 3), ("orders", 4), ("shipping", 4), ("returns", 3), ("account", 2), ("", 2))
# What a conversation came to: (answered, contained, handed off, declined), weight.
OUTCOMES = (
    ((True, True, False, False), 58),
    ((True, False, True, False), 9),
    ((False, False, True, True), 8),
    ((False, False, True, False), 8),
    ((False, False, False, True), 12),
    ((True, False, False, True), 5),
)
REASON_WEIGHTS = (40, 25, 15, 15, 5)  # customer_asked, bot_failed, not_answered, topic, complaint
TAGS = ("late shipper", "warehouse delay", "lost parcel", "damaged in transit", "double charge",
        "payment failed", "refund slow", "account access", "bot could not answer")  # fmt: skip
DATA_DIR = Path(__file__).resolve().parent.parent / "bot" / "data"


def pick(pairs: tuple[tuple[str, int], ...], k: int, rng: random.Random) -> list[str]:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs], k=k)


def share(count: int, p: float, rng: random.Random) -> int:
    """About p of count (randomised rounding: cheaper than a draw per conversation)."""
    return int(count * p + rng.random())


def day_batch(day: str, per_day: int, agents: list[str], answers: dict[str, list[str]],
              rng: random.Random) -> Batch:  # fmt: skip
    """One day's aggregates, as the aggregator would have counted them."""
    batch = Batch()
    channels = pick(CHANNELS, per_day, rng)
    languages = pick(LANGUAGES, per_day, rng)
    areas = pick(AREAS, per_day, rng)
    outcomes = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES], k=per_day)
    cells: Counter[tuple[str, str, str, tuple[bool, bool, bool, bool]]] = Counter(
        zip(channels, languages, areas, outcomes, strict=True)
    )
    for (channel, language, area, outcome), n in cells.items():
        answered, contained, handed, declined = outcome
        dims = Dims(channel, language, area)
        batch.add(day, Dims(channel, language), "opened", n + n // 5)
        batch.add(day, dims, "conv", n)
        if answered:
            batch.add(day, dims, "answered", n)
            batch.add(day, dims, "bot_answers", n)
            for answer, count in Counter(rng.choices(answers[area or "orders"], k=n)).items():
                batch.add(day, dims, f"answer:{answer}", count)
                batch.add(day, dims, f"rated_no:{answer}", share(count, 0.04, rng))
                batch.add(day, dims, f"rated_yes:{answer}", share(count, 0.15, rng))
        if contained:
            batch.add(day, dims, "contained", n)
        if declined:
            batch.add(day, dims, "declined:not_understood", n)
        if handed:
            batch.add(day, dims, "handoff", n)
            for reason, count in Counter(rng.choices(REASONS, REASON_WEIGHTS, k=n)).items():
                batch.add(day, dims, f"handoff:{reason}", count)
            _cases(batch, day, dims, n, agents, rng)
    return batch


def _cases(batch: Batch, day: str, dims: Dims, n: int, agents: list[str],
           rng: random.Random) -> None:  # fmt: skip
    counts: Counter[tuple[str, str]] = Counter()  # (agent, metric)
    counts[("", "cases")] += n
    for _ in range(n):
        if rng.random() < 0.08:
            counts[("", "abandoned")] += 1
            continue
        if rng.random() < 0.1:
            counts[("", "msg_left")] += 1
        agent = rng.choice(agents)
        waited = rng.lognormvariate(4.25, 0.9)  # median 70 s
        counts[(agent, "assigned")] += 1
        counts[(agent, f"queue_b:{bucket_of(waited)}")] += 1
        counts[(agent, "quoted")] += 1
        if waited <= rng.lognormvariate(5.2, 0.4):  # quotes: median 180 s
            counts[(agent, "quote_kept")] += 1
        counts[(agent, "first_replies")] += 1
        counts[(agent, f"frt_b:{bucket_of(waited + rng.uniform(5, 60))}")] += 1
        counts[(agent, "closed")] += 1
        if rng.random() < 0.4:
            counts[(agent, f"csat:{rng.choices('12345', (1, 1, 2, 5, 8))[0]}")] += 1
            counts[(agent, f"effort:{rng.choices('12345', (1, 2, 2, 5, 6))[0]}")] += 1
        for tag in rng.sample(TAGS, rng.choice((0, 1, 1, 2))):
            counts[(agent, f"tag:{tag}")] += 1
    for (agent, metric), count in counts.items():
        batch.add(day, Dims(dims.channel, dims.language, dims.area, agent), metric, count)


async def fill(reports: Reports, redis: Redis, per_day: int, agents_count: int) -> None:
    rng = random.Random(7)
    agents = [f"agent{i:02d}" for i in range(agents_count)]
    by_area: dict[str, list[str]] = {}
    for answer in faq_answers(DATA_DIR):
        by_area.setdefault(answer.split("/")[0], []).append(answer)
    days = reports.period("30d").days()
    made = written = 0.0
    for day in days:
        started = time.perf_counter()
        batch = day_batch(day, per_day, agents, by_area, rng)
        made += time.perf_counter() - started
        started = time.perf_counter()
        await reports.store.write(batch)
        written += time.perf_counter() - started
    fields = 0
    async for key in redis.scan_iter(match="fd:rep:*", count=1000):
        if await redis.type(key) == b"hash":
            fields += await redis.hlen(key)
    memory = (await redis.info("memory"))["used_memory_human"]
    print(
        f"aggregates: {len(days)} days x {per_day:,} conversations "
        f"({len(days) * per_day:,}), {agents_count} agents: {fields:,} fields in the report "
        f"hashes ({fields // len(days):,} a day), Redis memory {memory}; simulated in "
        f"{made:.1f} s, written in {written:.1f} s"
    )


async def ingest(reports: Reports, count: int) -> tuple[int, float]:
    """Conversations through the real aggregator; returns (events, seconds)."""
    rng = random.Random(11)
    bus = EventBus()
    reports.subscribe(bus)
    events = 0
    started = time.perf_counter()
    for i in range(count):
        conversation = f"bench-{i}"
        channel, language = pick(CHANNELS, 1, rng)[0], pick(LANGUAGES, 1, rng)[0]
        common = (conversation, channel, language)
        published = [ConversationOpened(*common), BotAnswered(*common, "orders/status", 0.9, 1)]
        if rng.random() < 0.15:
            published.append(AnswerRated("orders/status", rng.random() < 0.7, conversation, 2))
        if rng.random() < 0.1:
            published.append(BotDeclined(*common, "qwertz", "nlu_fallback", 0.2, "unsure", 3))
        for event in published:
            await bus.publish(event)
        events += len(published)
        if rng.random() < 0.25:
            events += await _handoff(reports, bus, conversation, channel, language, rng)
    await bus.settled()  # the aggregator counts off the publisher's path: all counted
    return events, time.perf_counter() - started


async def _handoff(reports: Reports, bus: EventBus, conversation: str, channel: str,
                   language: str, rng: random.Random) -> int:  # fmt: skip
    case_id = f"case-{conversation}"
    requested = NOW - rng.uniform(60, 20 * 86_400)
    fields = {
        "id": case_id,
        "conversation_id": conversation,
        "requested_at": f"{requested:.3f}",
        "channel": channel,
        "language": language,
        "area": "orders",
        "reason": "customer_asked",
        "quote_high": "180",
        "state": "queued",
    }
    await reports.cases.create(case_id, fields, conversation)
    await bus.publish(CaseQueued(case_id, conversation, "customer_asked"))
    joined = requested + rng.lognormvariate(math.log(70), 0.9)
    await reports.cases.update(case_id, {"joined_at": f"{joined:.3f}", "agent": "agent01"})
    await bus.publish(CaseAssigned(case_id, conversation, "agent01", "Agent 01"))
    await bus.publish(AgentReplied(case_id, "agent01", joined + 20 - requested))
    await reports.cases.update(case_id, {"tags": '["late shipper"]', "state": "closed"})
    await bus.publish(CaseClosed(case_id, conversation, "agent01"))
    await bus.publish(SurveyAnswered(case_id, "csat", "4"))
    await reports.cases.update(case_id, {"comment": "fine, thanks"})
    await bus.publish(SurveyCommented(case_id, "fine, thanks"))
    return 7


async def timed(reports: Reports, filters: Filters, repeat: int) -> list[float]:
    period = reports.period("30d")
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        figures = await reports.figures(period, filters, team=not filters.agent)
        took.append(time.perf_counter() - started)
        assert figures.tables
    return took


async def timed_ingest(reports: Reports, count: int) -> None:
    events, seconds = await ingest(reports, count)
    rate = events / seconds
    share = 100_000 * (events / count) / rate / 86_400
    print(
        f"ingest through the aggregator: {count:,} conversations, {events:,} events in "
        f"{seconds:.1f} s = {rate:,.0f} events/s ({count / seconds:,.0f} conversations/s); "
        f"100,000 conversations a day would take {share:.1%} of one core, spread over the day"
    )
    figure(BENCH, "ingest (events through the aggregator)", f"{rate:,.0f} events/s")


FILTERS = (
    ("no filter", Filters()),
    ("one agent", Filters(agent="agent03")),
    ("one area", Filters(area="returns")),
    ("agent + channel", Filters(channel="widget", agent="agent03")),
    ("channel + language", Filters(channel="telegram", language="es")),
)


async def run(args: argparse.Namespace) -> None:
    with Services(BENCH) as services:
        url, _ = services.redis()
        redis = Redis.from_url(url)
        with tempfile.TemporaryDirectory() as data_dir:
            reports = Reports(
                redis, CaseStore(redis), RedisStore(redis), UTC, Path(data_dir), clock=lambda: NOW
            )
            for run, per_day in enumerate(int(v) for v in args.per_day.split(",")):
                await redis.flushdb()
                if run == 0:
                    await timed_ingest(reports, args.ingest)
                await fill(reports, redis, per_day, args.agents)
                total = f"{per_day * 30:,} conversations"
                for label, filters in FILTERS:
                    took = await timed(reports, filters, args.repeat)
                    median, worst = statistics.median(took), max(took)
                    print(
                        f"30-day report over {total}, {label}: median {median * 1000:.0f} ms, "
                        f"slowest {worst * 1000:.0f} ms over {args.repeat} runs"
                    )
                    figure(
                        BENCH,
                        f"30-day report, {total} ({label})",
                        f"{median * 1000:.0f} ms median, {worst * 1000:.0f} ms max",
                        f"target < 1 s: {'met' if worst < 1.0 else 'MISSED'}",
                    )
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-day",
        default="3334,100000",
        help="conversations a day, one run per value (default: 100,000 in 30 days, then "
        "100,000 a day)",
    )
    parser.add_argument("--agents", type=int, default=12)
    parser.add_argument("--ingest", type=int, default=3000, help="conversations, events timed")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="200 conversations a day, 100 ingested, 1 repeat: checks that it runs",
    )
    args = parser.parse_args()
    if args.quick:
        args.per_day, args.ingest, args.repeat = "200", 100, 1
    print_header("reports: a 30-day report over a busy month")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
