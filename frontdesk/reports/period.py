"""The period a report covers: today, the last 7 or 30 days (today included), or custom dates,
in business days of the business time zone (flows/hours.yml)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from frontdesk.errors import BadInput

PERIODS = {"today": 1, "7d": 7, "30d": 30}
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    name: str  # today | 7d | 30d | custom
    start: dt.date
    end: dt.date  # inclusive

    @classmethod
    def parse(cls, name: str, start: str, end: str, today: dt.date) -> Period:
        if name in PERIODS:
            return cls(name, today - dt.timedelta(days=PERIODS[name] - 1), today)
        if name != "custom":
            raise BadInput("bad_period", "the period is today, 7d, 30d or custom")
        try:
            first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        except ValueError:
            raise BadInput("bad_dates", "custom dates are YYYY-MM-DD") from None
        if last < first:
            first, last = last, first
        if (last - first).days >= MAX_DAYS:
            raise BadInput("bad_dates", f"a report covers at most {MAX_DAYS} days")
        return cls("custom", first, last)

    def days(self) -> list[str]:
        count = (self.end - self.start).days + 1
        return [(self.start + dt.timedelta(days=i)).isoformat() for i in range(count)]

    @property
    def label(self) -> str:
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()} \u2013 {self.end.isoformat()}"
