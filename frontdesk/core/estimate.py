"""Wait estimates from agents' free and busy slots and the real distribution of handle times.

Each estimate simulates the queue many times: every busy slot frees after a remaining time drawn
from the handle times longer than what that conversation has already taken; each waiting
customer, in order, takes the first free slot and then holds it for a drawn handle time. The
quoted range is a low and a high quantile of the simulated waits, so a long tail in real handle
times makes the quote longer, not just the mean.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Slots:
    """What the available agents can take: their capacity and the age of each open case."""

    capacity: int
    busy_elapsed: tuple[float, ...]  # seconds each open conversation has lasted so far


@dataclass(frozen=True)
class Estimate:
    low: float  # seconds
    high: float

    @property
    def low_minutes(self) -> int:
        return max(0, math.floor(self.low / 60))

    @property
    def high_minutes(self) -> int:
        return max(1, math.ceil(self.high / 60))

    @property
    def shown_high(self) -> int:
        """The upper end as customers read it, in seconds: under a minute in 15 s steps
        ("within 45 seconds"), else whole minutes, always rounded up."""
        if self.high <= 60:
            return max(15, math.ceil(self.high / 15) * 15)
        return 60 * self.high_minutes


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def estimate_waits(
    waiting: int,
    slots: Sequence[Slots],
    handle_times: Sequence[float],
    *,
    pickup: float | Sequence[float] = 0.0,
    low_q: float = 0.25,
    high_q: float = 0.9,
    runs: int = 300,
    seed: int | None = None,
) -> list[Estimate] | None:
    """Estimates for queue positions 1..waiting; None when no agent can take anyone."""
    capacity = sum(s.capacity for s in slots)
    if capacity <= 0 or waiting <= 0:
        return None if capacity <= 0 else []
    samples = sorted(h for h in handle_times if h > 0) or [300.0]
    base = random.Random(seed).getrandbits(32)
    pickups = sorted(pickup) if not isinstance(pickup, int | float) else [float(pickup)]
    pickups = pickups or [0.0]
    busy = [e for s in slots for e in s.busy_elapsed[: s.capacity]]
    free = capacity - len(busy)
    starts: list[list[float]] = [[] for _ in range(waiting)]
    for run in range(runs):
        # One generator per run: a customer's estimate does not change because someone
        # joined the queue behind them (their draws are the same prefix of the run).
        rng = random.Random(base + run)
        heap = [0.0] * free + [_remaining(samples, e, rng) for e in busy]
        heapq.heapify(heap)
        for position in range(waiting):
            start = heapq.heappop(heap)
            starts[position].append(start + rng.choice(pickups))
            heapq.heappush(heap, start + rng.choice(samples))
    estimates = []
    for waits in starts:
        waits.sort()
        estimates.append(Estimate(_quantile(waits, low_q), _quantile(waits, high_q)))
    return estimates


def _remaining(samples: Sequence[float], elapsed: float, rng: random.Random) -> float:
    """Time left for a conversation that has lasted `elapsed`: a handle time longer than that."""
    index = bisect.bisect_right(samples, elapsed)
    if index < len(samples):
        return samples[rng.randrange(index, len(samples))] - elapsed
    return max(60.0, 0.5 * elapsed)  # longer than anything seen: assume it goes on a while
