"""The honesty benchmark: are frontdesk's wait quotes kept?

A simulated day — arrivals that vary by hour, log-normal handle times, agents with capacity who
come and go — runs the real queue (CaseStore, AgentStore on an embedded Redis) and the real
estimator (Waits.statuses, the code that writes every customer's queue status), on a simulated
clock. Each customer's FIRST quote is compared with the wait they actually had.

Printed: the share of customers whose actual wait was at most the upper end of their first
quote (target >= 85 %), the median of (quoted upper end / actual wait) (target <= 1.5x), and the
mean absolute error of the quote's midpoint and upper end. As a baseline, the same run also
scores the naive quote "position x mean handle time / agents" on the same customers.

    .venv/bin/python bench/wait_honesty.py [--days 3] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis

from frontdesk.config import ROOT
from frontdesk.core.conversation import Conversations
from frontdesk.core.estimate import Estimate
from frontdesk.core.events import EventBus
from frontdesk.core.hours import Hours
from frontdesk.core.metrics import Metrics
from frontdesk.core.outbox import Outbox
from frontdesk.core.templates import Templates
from frontdesk.core.waits import Waits, load_wait_config
from frontdesk.store import RedisStore
from frontdesk.store.agents import AgentStore
from frontdesk.store.cases import CaseStore
from frontdesk.store.embedded import EmbeddedRedis

DAY_HOURS = 10
ARRIVALS_PER_HOUR = [20, 35, 50, 60, 45, 40, 55, 65, 45, 25]  # a morning and an evening peak
HANDLE_MEDIAN_MIN, HANDLE_SIGMA = 6.0, 0.6
PICKUP = (5.0, 30.0)  # seconds an agent takes to pick up a free slot (uniform)
# (name, capacity, [(from hour, to hour), ...]) — shifts with breaks: agents come and go.
AGENTS = [
    ("ana", 3, [(0, 4), (4.5, 10)]),
    ("ben", 2, [(1, 6)]),
    ("cho", 3, [(3, 7.5), (8, 10)]),
    ("dev", 2, [(6, 10)]),
]


@dataclass(order=True)
class Event:
    at: float
    order: int
    kind: str = field(compare=False)
    data: tuple[str, ...] = field(compare=False, default=())


@dataclass
class Customer:
    case_id: str
    arrived: float
    position: int
    quote_low: float | None = None
    quote_high: float | None = None
    naive: float | None = None
    joined: float | None = None


class Day:
    def __init__(self, redis: Redis, rng: random.Random, start: float) -> None:
        self.rng = rng
        self.now = start
        self.start = start
        self.cases = CaseStore(redis)
        self.agents = AgentStore(redis, "bench")
        store = RedisStore(redis)
        templates = Templates(ROOT / "flows", "en")
        always = Hours(zone=__import__("zoneinfo").ZoneInfo("UTC"), always_open=True)
        metrics = Metrics()
        self.waits = Waits(
            Conversations(store, EventBus(), "en"),
            self.cases,
            self.agents,
            Outbox(store, metrics),
            templates,
            always,
            load_wait_config(ROOT / "flows"),
            metrics,
            clock=lambda: self.now,
        )
        self.events: list[Event] = []
        self.order = 0
        self.customers: dict[str, Customer] = {}
        self.capacity = {name: cap for name, cap, _ in AGENTS}
        self.on_shift: set[str] = set()
        self.load: dict[str, int] = dict.fromkeys(self.capacity, 0)
        self.recent_handles: list[float] = []
        self.pending_pickups: set[str] = set()

    def at(self, when: float, kind: str, *data: str) -> None:
        self.order += 1
        heapq.heappush(self.events, Event(when, self.order, kind, data))

    def handle_time(self) -> float:
        return 60 * HANDLE_MEDIAN_MIN * math.exp(self.rng.gauss(0, HANDLE_SIGMA))

    async def setup(self, day_index: int) -> None:
        base = self.start + day_index * 24 * 3600
        for name, capacity, shifts in AGENTS:
            await self.agents.save(name, {"display_name": name, "capacity": str(capacity)})
            for begin, end in shifts:
                self.at(base + begin * 3600, "on", name)
                self.at(base + end * 3600, "off", name)
        for hour, rate in enumerate(ARRIVALS_PER_HOUR):
            t = base + hour * 3600
            while True:
                t += self.rng.expovariate(rate / 3600)
                if t >= base + (hour + 1) * 3600 or t >= base + DAY_HOURS * 3600:
                    break
                self.at(t, "arrive")

    async def run(self) -> None:
        while self.events:
            event = heapq.heappop(self.events)
            self.now = event.at
            await getattr(self, f"on_{event.kind}")(*event.data)

    async def on_on(self, name: str) -> None:
        self.on_shift.add(name)
        await self.agents.set_status(name, "available")
        await self.agents.connected(name, +1)
        await self.dispatch()

    async def on_off(self, name: str) -> None:
        # The agent stops taking new conversations and finishes the open ones.
        self.on_shift.discard(name)
        await self.agents.set_status(name, "away")

    async def on_arrive(self) -> None:
        case_id = f"c{self.order}-{self.rng.randrange(10**9)}"
        fields = {
            "id": case_id,
            "conversation_id": case_id,
            "channel": "widget",
            "language": "en",
            "requested_at": f"{self.now:.3f}",
        }
        await self.cases.create(case_id, fields, customer_key=case_id)
        position = await self.cases.position(case_id) or 1
        customer = Customer(case_id, self.now, position)
        status = await self.waits.status_of(case_id)
        if status is not None:
            await self.waits.record_quote(status)
            if status.estimate is not None:
                customer.quote_low = status.estimate.low
                customer.quote_high = status.estimate.high
        agents_on = sum(1 for a in self.on_shift) or 1
        mean = statistics.fmean(self.recent_handles[-200:]) if self.recent_handles else 480.0
        customer.naive = position * mean / agents_on
        self.customers[case_id] = customer
        await self.dispatch()

    async def dispatch(self) -> None:
        """Auto-assignment: the oldest waiting customer to the least-loaded agent with room."""
        for case_id, _ in await self.cases.queue():
            if case_id in self.pending_pickups:
                continue
            free = sorted(a for a in self.on_shift if self.load[a] < self.capacity[a])
            if not free:
                return
            agent = min(free, key=lambda a: self.load[a] / self.capacity[a])
            self.load[agent] += 1
            self.pending_pickups.add(case_id)
            self.at(self.now + self.rng.uniform(*PICKUP), "pickup", case_id, agent)

    async def on_pickup(self, case_id: str, agent: str) -> None:
        self.pending_pickups.discard(case_id)
        result = await self.cases.claim(case_id, agent, self.capacity[agent] + 1, now=self.now)
        assert result == 1, result
        self.customers[case_id].joined = self.now
        self.at(self.now + self.handle_time(), "close", case_id, agent)

    async def on_close(self, case_id: str, agent: str) -> None:
        joined = self.customers[case_id].joined or self.now
        self.recent_handles.append(self.now - joined)
        await self.cases.release(
            case_id, agent, {"state": "closed", "closed_at": f"{self.now:.3f}"}
        )
        self.load[agent] -= 1
        await self.dispatch()


def score(pairs: list[tuple[float, float, float]]) -> tuple[float, float, float, float]:
    """(share kept, median upper/actual, MAE of midpoint, MAE of upper end) in minutes."""
    kept = sum(1 for _, high, actual in pairs if actual <= high) / len(pairs)
    ratios = [high / actual for _, high, actual in pairs if actual > 0]
    mid_err = statistics.fmean(abs((low + high) / 2 - actual) for low, high, actual in pairs)
    high_err = statistics.fmean(abs(high - actual) for _, high, actual in pairs)
    return kept, statistics.median(ratios), mid_err / 60, high_err / 60


async def simulate(days: int, seed: int) -> tuple[list[Customer], int, float]:
    """One run of `days` simulated days; the quoted customers, how many arrived, wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        embedded = EmbeddedRedis(Path(tmp))
        redis = Redis.from_url(await embedded.start())
        began = time.perf_counter()
        try:
            day = Day(redis, random.Random(seed), start=1_900_000_000.0)
            for index in range(days):
                await day.setup(index)
            await day.run()
        finally:
            await redis.aclose()
            await embedded.stop()
    quoted = [
        c for c in day.customers.values() if c.joined is not None and c.quote_high is not None
    ]
    return quoted, len(day.customers), time.perf_counter() - began


def pairs(customers: list[Customer]) -> dict[str, list[tuple[float, float, float]]]:
    ours = [
        (c.quote_low or 0.0, c.quote_high or 0.0, (c.joined or 0) - c.arrived) for c in customers
    ]
    return {
        # What the customer read: the upper end rounded up as shown (Estimate.shown_high).
        "frontdesk, as shown to customers": [
            (60 * math.floor(low / 60), float(Estimate(low, high).shown_high), actual)
            for low, high, actual in ours
        ],
        "frontdesk, raw estimate (unrounded)": ours,
        "naive baseline (pos x mean / agents)": [
            (c.naive or 0.0, c.naive or 0.0, (c.joined or 0) - c.arrived) for c in customers
        ],
    }


def line(label: str, scored: list[tuple[float, float, float]]) -> str:
    kept, ratio, mid, high = score(scored)
    return (
        f"{label:38s} kept {kept:6.1%} | median upper/actual {ratio:5.2f}x | "
        f"MAE midpoint {mid:5.2f} min | MAE upper {high:5.2f} min"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seeds", default="7,1,2", help="comma-separated; results are pooled")
    args = parser.parse_args()
    seeds = [int(x) for x in args.seeds.split(",")]
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    print(
        f"simulated: {args.days} day(s) of {DAY_HOURS} h per seed, {sum(ARRIVALS_PER_HOUR)} "
        f"arrivals/day expected, log-normal handle times (median {HANDLE_MEDIAN_MIN} min, sigma "
        f"{HANDLE_SIGMA}), {len(AGENTS)} agents with shifts and breaks, seeds {seeds}"
    )
    pooled: list[Customer] = []
    for seed in seeds:
        quoted, arrived, elapsed = await simulate(args.days, seed)
        pooled += quoted
        waits = sorted((c.joined or 0) - c.arrived for c in quoted)
        p50, p90 = waits[len(waits) // 2] / 60, waits[int(len(waits) * 0.9)] / 60
        print(
            f"seed {seed}: {arrived} arrived, {len(quoted)} quoted and served; actual wait "
            f"p50 {p50:.1f} min, p90 {p90:.1f} min; {elapsed:.1f} s wall"
        )
        print(
            "  "
            + line(
                "frontdesk, as shown to customers",
                pairs(quoted)["frontdesk, as shown to customers"],
            )
        )
    print(f"pooled over {len(seeds)} seeds ({len(pooled)} customers):")
    for label, scored in pairs(pooled).items():
        print("  " + line(label, scored))
    kept, ratio, _, _ = score(pairs(pooled)["frontdesk, as shown to customers"])
    _, naive_ratio, _, _ = score(pairs(pooled)["naive baseline (pos x mean / agents)"])
    print(
        f"FIGURE | wait_honesty | waits within the quoted upper end | {kept:.1%} | "
        f"target >= 85 %: {'met' if kept >= 0.85 else 'MISSED'}"
    )
    print(
        f"FIGURE | wait_honesty | median quoted upper end / actual wait | {ratio:.2f}x | "
        f"target <= 1.5x: {'met' if ratio <= 1.5 else 'MISSED'}; naive baseline {naive_ratio:.2f}x"
    )
    print(
        f"summary: share of waits within the quoted upper end = {kept:.1%} (target >= 85 %); "
        f"median quoted-upper / actual = {ratio:.2f}x (target <= 1.5x); "
        f"{'targets met' if kept >= 0.85 and ratio <= 1.5 else 'TARGET MISSED'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
