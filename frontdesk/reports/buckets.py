"""Fixed-bucket histograms of durations, and the percentiles read from them.

Waits and first-response times are stored as counts per bucket (a hash field per bucket), so a
period's median and 90th percentile come from summing a few dozen counters instead of reading
every case. A percentile is reported as the UPPER edge of the bucket that holds the p-th
ranked value (nearest rank): "the median first response was at most 45 s". It errs on the
long side — like the wait quotes — by at most one bucket width: 1 s up to 10 s, 5 s up to a
minute, 15 s up to 5 minutes, a minute up to 30, 5 minutes up to 2 hours, then half hours up
to a day and days up to a week.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping


def _edges() -> tuple[float, ...]:
    edges: list[float] = []
    for start, stop, step in (
        (1, 10, 1),
        (15, 60, 5),
        (75, 300, 15),
        (360, 1800, 60),
        (2100, 7200, 300),
        (9000, 86_400, 1800),
        (2 * 86_400, 7 * 86_400, 86_400),
    ):
        edges.extend(float(v) for v in range(start, stop + 1, step))
    return tuple(edges)


EDGES = _edges()  # upper edges (inclusive); one more bucket past the last holds longer values
OVERFLOW = len(EDGES)


def bucket_of(seconds: float) -> int:
    """The bucket index of a duration (negative durations, clock skew, count as 0 s)."""
    return bisect.bisect_left(EDGES, max(0.0, seconds))


def upper_edge(index: int) -> float:
    """The most a value in this bucket can be (the overflow bucket: its lower edge)."""
    return EDGES[min(index, OVERFLOW - 1)]


def percentile(counts: Mapping[int, int], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..1) as the upper edge of its bucket; None if empty."""
    total = sum(n for n in counts.values() if n > 0)
    if total <= 0:
        return None
    rank = max(1, math.ceil(p * total))
    seen = 0
    for index in sorted(counts):
        if counts[index] <= 0:
            continue
        seen += counts[index]
        if seen >= rank:
            return upper_edge(index)
    return upper_edge(max(counts))  # not reached: seen ends at total >= rank


def duration_text(seconds: float | None) -> str:
    """45 s, 3 min 20 s, 2 h 5 min, 3 d; a dash for no value."""
    if seconds is None:
        return "\u2013"
    value = round(seconds)
    if value < 60:
        return f"{value} s"
    if value < 3600:
        minutes, rest = divmod(value, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    if value < 86_400:
        hours, rest = divmod(value, 3600)
        return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"
    return f"{value / 86_400:.1f} d".replace(".0 d", " d")
