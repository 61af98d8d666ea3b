"""The shape every report has (a Table: columns, rows and the chart drawn from those rows) and
the small arithmetic the figures share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Cell = str | int | float | None


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    chart: dict[str, Any] | None = None
    note: str = ""
    team_only: bool = False


@dataclass
class Figures:
    tiles: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables if t.key == key), None)


def pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def avg(counts: Mapping[str, int]) -> float | None:
    total = sum(counts.values())
    if not total:
        return None
    return round(sum(int(score) * n for score, n in counts.items()) / total, 2)


def histogram(counter: Counter[str], prefix: str) -> dict[int, int]:
    found: dict[int, int] = {}
    for metric, n in counter.items():
        if metric.startswith(prefix) and n:
            found[int(metric[len(prefix) :])] = found.get(int(metric[len(prefix) :]), 0) + n
    return found


def seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def shown(value: Cell, suffix: str = "") -> str:
    return "\u2013" if value is None else f"{value}{suffix}"


def by_prefix(counter: Counter[str], prefix: str) -> Counter[str]:
    return Counter({m[len(prefix) :]: n for m, n in counter.items() if m.startswith(prefix) and n})


def series(
    labels: list[str], names: Iterable[tuple[str, list[Cell]]], kind: str = "bar", **options: Any
) -> dict[str, Any]:
    return {
        "type": kind,
        "labels": labels,
        "datasets": [{"label": name, "data": data} for name, data in names],
        **options,
    }
