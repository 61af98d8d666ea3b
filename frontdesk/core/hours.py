"""Business hours from flows/hours.yml: open now? when do we reopen? when will we reply?"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from frontdesk.errors import ConfigError

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HORIZON_DAYS = 400


@dataclass(frozen=True)
class Hours:
    zone: ZoneInfo
    weekly: dict[int, tuple[tuple[dt.time, dt.time], ...]] = field(default_factory=dict)
    holidays: dict[dt.date, str] = field(default_factory=dict)
    closures: tuple[tuple[dt.datetime, dt.datetime, str], ...] = ()
    reply_within: dt.timedelta = dt.timedelta(hours=2)
    always_open: bool = False
    zone_names: dict[str, str] = field(default_factory=dict)  # language -> "Berlin time"

    def zone_name(self, language: str) -> str:
        """How the shop's time zone reads in a promise: flows/hours.yml's timezone_names, else
        the zone's city ("Europe/Berlin" -> "Berlin")."""
        city = str(self.zone.key).rsplit("/", 1)[-1].replace("_", " ")
        return self.zone_names.get(language) or self.zone_names.get("en") or city

    def _intervals(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """Opening intervals on a local date, with holidays and closures taken out."""
        if day in self.holidays:
            return []
        intervals = [
            (dt.datetime.combine(day, start, self.zone), _end(day, end, self.zone))
            for start, end in self.weekly.get(day.weekday(), ())
        ]
        for closed_from, closed_to, _ in self.closures:
            cut: list[tuple[dt.datetime, dt.datetime]] = []
            for start, end in intervals:
                if closed_to <= start or closed_from >= end:
                    cut.append((start, end))
                    continue
                if start < closed_from:
                    cut.append((start, closed_from))
                if closed_to < end:
                    cut.append((closed_to, end))
            intervals = cut
        return intervals

    def is_open(self, now: dt.datetime) -> bool:
        if self.always_open:
            return True
        local = now.astimezone(self.zone)
        for day in (local.date() - dt.timedelta(days=1), local.date()):
            if any(start <= local < end for start, end in self._intervals(day)):
                return True
        return False

    def next_opening(self, now: dt.datetime) -> dt.datetime:
        """When we are next open: `now` if open now."""
        if self.is_open(now):
            return now
        local = now.astimezone(self.zone)
        for offset in range(HORIZON_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            for start, _ in self._intervals(day):
                if start > local:
                    return start
        raise ConfigError("flows/hours.yml opens on no day in the coming year")

    def closes_at(self, now: dt.datetime) -> dt.datetime | None:
        local = now.astimezone(self.zone)
        for day in (local.date() - dt.timedelta(days=1), local.date()):
            for start, end in self._intervals(day):
                if start <= local < end:
                    return end
        return None

    def reply_by(self, now: dt.datetime) -> dt.datetime:
        """The promise for a message left now: reply_within of OPENING time from now (or from
        when we reopen). Left at 17:20 with closing at 18:00 and two hours to reply: 40 minutes
        today, the other 80 after we reopen — never a time when nobody is there."""
        return self.after_open_time(now, self.reply_within).astimezone(self.zone)

    def after_open_time(self, now: dt.datetime, span: dt.timedelta) -> dt.datetime:
        """The moment when `span` of opening hours has passed, counted from `now`."""
        if self.always_open:
            return now + span
        local = now.astimezone(self.zone)
        left = span
        for offset in range(-1, HORIZON_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            for start, end in sorted(self._intervals(day)):
                if end <= local:
                    continue
                start = max(start, local)
                if end - start >= left:
                    return start + left
                left -= end - start
        raise ConfigError("flows/hours.yml opens on no day in the coming year")

    def open_between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """How much opening time lies between two moments (zero when `end` is not later):
        the inverse of after_open_time. 17:00 Friday to 10:00 Monday, open 9-18 on weekdays
        and closed at weekends: 2 hours."""
        if end <= start:
            return dt.timedelta(0)
        if self.always_open:
            return end - start
        first, last = start.astimezone(self.zone), end.astimezone(self.zone)
        total = dt.timedelta(0)
        day = first.date() - dt.timedelta(days=1)
        while day <= last.date():
            for opens, closes in self._intervals(day):
                low, high = max(opens, first), min(closes, last)
                if high > low:  # real elapsed time, also on a day the clocks change
                    total += high.astimezone(dt.UTC) - low.astimezone(dt.UTC)
            day += dt.timedelta(days=1)
        return total


def _end(day: dt.date, end: dt.time, zone: ZoneInfo) -> dt.datetime:
    # "18:00-24:00" or an end of 00:00 means midnight at the end of the day.
    if end == dt.time(0, 0):
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), zone)
    return dt.datetime.combine(day, end, zone)


def _time(path: Path, text: str) -> dt.time:
    if text.strip() == "24:00":
        return dt.time(0, 0)
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{path}: {text!r} is not a time like 09:00") from None


def _local(path: Path, value: Any, zone: ZoneInfo) -> dt.datetime:
    try:
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{path}: {value!r} is not a date-time like 2026-12-31T13:00") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def load_hours(flows_dir: Path) -> Hours:
    """Read flows/hours.yml; without it, always open (UTC)."""
    path = flows_dir / "hours.yml"
    if not path.is_file():
        return Hours(zone=ZoneInfo("UTC"), always_open=True)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    try:
        zone = ZoneInfo(str(data.get("timezone", "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{path}: unknown timezone {data.get('timezone')!r}") from None
    weekly: dict[int, tuple[tuple[dt.time, dt.time], ...]] = {}
    for name, ranges in (data.get("weekly") or {}).items():
        if str(name).lower() not in DAYS:
            raise ConfigError(f"{path}: {name!r} is not a weekday")
        parsed = []
        for item in ranges or []:
            start, sep, end = str(item).partition("-")
            if not sep:
                raise ConfigError(f"{path}: {item!r} should look like 09:00-18:00")
            parsed.append((_time(path, start), _time(path, end)))
        weekly[DAYS.index(str(name).lower())] = tuple(parsed)
    holidays: dict[dt.date, str] = {}
    for item in data.get("holidays") or []:
        entry = item if isinstance(item, dict) else {"date": item}
        try:
            day = dt.date.fromisoformat(str(entry["date"]))
        except (KeyError, ValueError):
            raise ConfigError(f"{path}: holiday {item!r} needs a date like 2026-12-25") from None
        holidays[day] = str(entry.get("name", "holiday"))
    closures = tuple(
        (_local(path, c["start"], zone), _local(path, c["end"], zone), str(c.get("reason", "")))
        for c in data.get("closures") or []
    )
    try:
        within = dt.timedelta(hours=float(data.get("reply_within_hours", 2)))
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: reply_within_hours must be a number") from None
    if not weekly:
        raise ConfigError(f"{path}: weekly opening hours are empty")
    names = data.get("timezone_names") or {}
    if not isinstance(names, dict):
        raise ConfigError(f"{path}: timezone_names maps a language to a name, like en: Berlin time")
    zone_names = {str(k): str(v) for k, v in names.items()}
    return Hours(zone, weekly, holidays, closures, within, zone_names=zone_names)
