"""Business hours and wait estimates: pure logic, no services."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from frontdesk.config import ROOT
from frontdesk.core.estimate import Slots, estimate_waits
from frontdesk.core.hours import load_hours

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = load_hours(ROOT / "flows")  # the shipped flows/hours.yml


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def test_open_and_closed_by_the_weekly_hours() -> None:
    assert HOURS.is_open(at("2026-11-23T10:00"))  # a Monday
    assert not HOURS.is_open(at("2026-11-23T18:00"))  # closing time is exclusive
    assert not HOURS.is_open(at("2026-11-29T12:00"))  # Sunday
    assert HOURS.is_open(at("2026-11-28T13:59")) and not HOURS.is_open(at("2026-11-28T14:00"))
    assert HOURS.next_opening(at("2026-11-23T10:00")) == at("2026-11-23T10:00")


def test_reopening_after_the_christmas_holidays() -> None:
    # Thursday 24 December (holiday), 25 and Saturday 26 are holidays, Sunday is closed.
    now = at("2026-12-24T10:30")
    assert not HOURS.is_open(now)
    assert HOURS.next_opening(now) == at("2026-12-28T09:00")
    assert HOURS.reply_by(now) == at("2026-12-28T11:00")


def test_a_one_off_closure_and_new_year() -> None:
    # New Year's Eve closes at 13:00, New Year's Day is a holiday, 2 January is a Saturday.
    assert HOURS.is_open(at("2026-12-31T12:59"))
    assert HOURS.next_opening(at("2026-12-31T13:00")) == at("2027-01-02T10:00")


def test_reopening_across_the_daylight_saving_change() -> None:
    # Clocks go back on Sunday 25 October 2026: Saturday closes at 14:00 CEST (UTC+2) and
    # Monday opens at 9:00 CET (UTC+1).
    now = at("2026-10-24T15:00")
    opening = HOURS.next_opening(now)
    assert opening == at("2026-10-26T09:00")
    assert opening.astimezone(dt.UTC).hour == 8
    real = opening.astimezone(dt.UTC) - now.astimezone(dt.UTC)
    assert real == dt.timedelta(hours=43)  # 42 wall-clock hours + the hour given back
    assert HOURS.reply_by(now).astimezone(BERLIN).hour == 11


def test_spring_forward_keeps_local_opening_time() -> None:
    # Clocks go forward on Sunday 28 March 2027: Monday 9:00 is 7:00 UTC.
    opening = HOURS.next_opening(at("2027-03-27T20:00"))
    assert opening == at("2027-03-29T09:00") and opening.astimezone(dt.UTC).hour == 7


def test_hours_file_errors_are_clear(tmp_path: Path) -> None:
    import pytest

    from frontdesk.errors import ConfigError

    (tmp_path / "hours.yml").write_text("timezone: Mars/Olympus\nweekly: {monday: ['9-5']}\n")
    with pytest.raises(ConfigError, match="unknown timezone"):
        load_hours(tmp_path)
    (tmp_path / "hours.yml").write_text("timezone: UTC\nweekly: {monday: ['0900']}\n")
    with pytest.raises(ConfigError, match="09:00-18:00"):
        load_hours(tmp_path)


HANDLE = [m * 60.0 for m in (3, 4, 5, 6, 8, 10, 12, 15, 25)]


def test_estimates_grow_with_position_and_shrink_with_agents() -> None:
    one = [Slots(capacity=2, busy_elapsed=(60.0, 300.0))]
    two = [*one, Slots(capacity=2, busy_elapsed=(120.0, 30.0))]
    by_one = estimate_waits(6, one, HANDLE, seed=1)
    by_two = estimate_waits(6, two, HANDLE, seed=1)
    assert by_one is not None and by_two is not None
    highs = [e.high for e in by_one]
    assert highs == sorted(highs) and highs[0] < highs[-1]
    assert all(e.low <= e.high for e in by_one)
    assert all(b.high <= a.high for a, b in zip(by_one, by_two, strict=True))
    assert sum(b.high for b in by_two) < sum(a.high for a in by_one)


def test_a_free_slot_means_a_short_wait_and_no_agent_means_no_promise() -> None:
    free = estimate_waits(1, [Slots(capacity=3, busy_elapsed=(60.0,))], HANDLE, pickup=20, seed=1)
    assert free is not None and free[0].high == 20 and free[0].high_minutes == 1
    assert estimate_waits(3, [], HANDLE) is None
    assert estimate_waits(3, [Slots(capacity=0, busy_elapsed=())], HANDLE) is None


def test_a_long_tail_of_handle_times_lengthens_the_quote() -> None:
    slots = [Slots(capacity=1, busy_elapsed=(60.0,))]
    short = estimate_waits(2, slots, [300.0] * 20, seed=3)
    tail = estimate_waits(2, slots, [300.0] * 16 + [3600.0] * 4, seed=3)
    assert short is not None and tail is not None
    assert tail[1].high > short[1].high * 2
    # The mean handle time of `tail` is under 3x `short`'s, but the quote follows the tail.


def test_a_conversation_older_than_all_samples_still_counts() -> None:
    est = estimate_waits(1, [Slots(capacity=1, busy_elapsed=(7200.0,))], HANDLE, seed=5)
    assert est is not None and est[0].low >= 60


def test_someone_joining_behind_you_does_not_move_your_estimate() -> None:
    slots = [Slots(capacity=1, busy_elapsed=(60.0,))]
    two = estimate_waits(2, slots, HANDLE, seed=9)
    three = estimate_waits(3, slots, HANDLE, seed=9)
    assert two is not None and three is not None
    assert two == three[:2]
