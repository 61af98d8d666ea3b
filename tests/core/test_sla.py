"""Service-level targets through the core on a simulated clock: deadlines counted in opening
hours (across closing time, weekends and holidays) and fixed on the case when it is created,
what the console is told (time left, at risk, breached, met), and the breach published once per
case and target, whichever process sees it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from frontdesk.config import ROOT
from frontdesk.core.conversation import CANCEL_REQUEST, LEAVE_MESSAGE
from frontdesk.core.events import SlaBreached
from frontdesk.core.hours import Hours
from frontdesk.core.sla import Sla, SlaPolicy, Targets, load_sla
from frontdesk.core.sla_watch import SlaWatch
from frontdesk.errors import ConfigError
from tests.core.conftest import Desk, make_desk, person

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS: dict[int, tuple[tuple[dt.time, dt.time], ...]] = {
    day: ((dt.time(9), dt.time(18)),)
    for day in range(5)  # Monday to Friday 9-18
}


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> float:
    """A moment in UTC (2026-11-30 is a Monday; make_desk's hours: 9-17 UTC every day)."""
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC).timestamp()


async def ask_for_person(desk: Desk, conversation_id: str = "c1") -> str:
    await desk.open(conversation_id)
    desk.bot.script["a person please"] = person()
    await desk.say(conversation_id, "a person please")
    ((case_id, _),) = await desk.cases.queue()
    return case_id


def breaches(desk: Desk) -> list[tuple[str, str, str]]:
    found = [e for e in desk.events_of(SlaBreached) if isinstance(e, SlaBreached)]
    return [(e.case_id, e.target, e.agent) for e in found]


# -- opening time --------------------------------------------------------------------------------


def test_open_time_between_two_moments_skips_nights_weekends_and_holidays() -> None:
    hours = Hours(zone=BERLIN, weekly=WEEKDAYS, holidays={dt.date(2026, 12, 8): "holiday"})
    friday = dt.datetime(2026, 12, 4, 17, 50, tzinfo=BERLIN)
    monday = dt.datetime(2026, 12, 7, 9, 20, tzinfo=BERLIN)
    assert hours.open_between(friday, monday) == dt.timedelta(minutes=30)
    assert hours.open_between(monday, friday) == dt.timedelta(0)
    # Monday 17:00 to Wednesday 10:00 over a holiday Tuesday: 1 hour + 1 hour.
    wednesday = dt.datetime(2026, 12, 9, 10, 0, tzinfo=BERLIN)
    assert hours.open_between(monday.replace(hour=17, minute=0), wednesday) == dt.timedelta(hours=2)
    # The inverse of after_open_time.
    span = dt.timedelta(hours=11, minutes=7)
    assert hours.open_between(friday, hours.after_open_time(friday, span)) == span


def test_a_deadline_set_on_friday_evening_falls_on_monday_morning() -> None:
    hours = Hours(zone=BERLIN, weekly=WEEKDAYS)
    sla = Sla(SlaPolicy(Targets(first=30 * 60, resolve=2 * 3600)), hours)
    friday = dt.datetime(2026, 12, 4, 17, 50, tzinfo=BERLIN).timestamp()
    fields = sla.stamp({"requested_at": f"{friday:.3f}", "area": "orders", "channel": "widget"})
    first = dt.datetime.fromtimestamp(float(fields["sla_first_due"]), BERLIN)
    resolve = dt.datetime.fromtimestamp(float(fields["sla_resolve_due"]), BERLIN)
    assert first == dt.datetime(2026, 12, 7, 9, 20, tzinfo=BERLIN)
    assert resolve == dt.datetime(2026, 12, 7, 10, 50, tzinfo=BERLIN)
    assert (fields["sla_first_target"], fields["sla_resolve_target"]) == ("1800", "7200")
    # Saturday noon: the clock is stopped (opening time left: 20 minutes, until Monday 9:00).
    saturday = dt.datetime(2026, 12, 5, 12, 0, tzinfo=BERLIN).timestamp()
    view = sla.view(fields, saturday)
    assert view is not None
    assert view["first_response"]["left_seconds"] == 20 * 60
    assert view["first_response"]["state"] == "ok"
    assert view["open_until"] is None
    assert view["opens_at"] == dt.datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN).timestamp()


# -- flows/sla.yml -------------------------------------------------------------------------------


def test_the_shipped_targets_are_read_most_specific_rule_first(tmp_path: Path) -> None:
    policy = load_sla(ROOT / "flows")
    assert policy.targets("orders", "widget") == Targets(5 * 60, 8 * 3600)
    assert policy.targets("billing", "widget") == Targets(5 * 60, 4 * 3600)
    assert policy.targets("billing", "telegram") == Targets(15 * 60, 4 * 3600)
    assert policy.at_risk_below == 0.25
    (tmp_path / "sla.yml").write_text(
        "targets:\n"
        "  - {first_response: 1h30m, resolution: 2h}\n"
        "  - {area: returns, first_response: 20m}\n"
        "  - {channel: whatsapp, first_response: 10m}\n"
        "  - {area: returns, channel: whatsapp, resolution: 90}\n"
    )
    mine = load_sla(tmp_path)
    assert mine.targets("returns", "widget") == Targets(20 * 60, 2 * 3600)
    assert mine.targets("returns", "whatsapp") == Targets(10 * 60, 90 * 60)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("targets:\n  - {first_response: soon}\n", "'soon' is not a duration"),
        ("targets:\n  - {first_reponse: 5m}\n", "unknown keys ['first_reponse']"),
        ("at_risk_below: 150%\n", "at_risk_below must be between"),
        ("targets: [\n", "is not valid YAML"),
    ],
)
def test_a_bad_sla_file_is_refused_with_a_clear_error(
    tmp_path: Path, text: str, complaint: str
) -> None:
    (tmp_path / "sla.yml").write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_sla(tmp_path)
    assert complaint in str(refused.value) and "sla.yml" in str(refused.value)


# -- a case's deadlines and where it stands --------------------------------------------------------


async def test_a_request_near_closing_time_is_due_after_reopening_and_counts_down_live() -> None:
    desk = make_desk(at=at(30, 16, 58))
    await desk.agent_online("maria")
    case_id = await ask_for_person(desk)
    case = await desk.cases.get(case_id)
    # 5 minutes of opening time: 2 today (closing at 17:00), 3 tomorrow from 9:00.
    assert float(case["sla_first_due"]) == at(1, 9, 3, month=12)
    assert float(case["sla_resolve_due"]) == at(1, 16, 58, month=12)

    def first() -> dict[str, Any]:
        view = desk.core.desk.sla_view(case, desk.now[0])
        assert view is not None
        return dict(view["first_response"])

    (item,) = await desk.core.desk.queue_items()
    assert item["sla"]["first_response"]["state"] == "ok"
    assert item["sla"]["first_response"]["left_seconds"] == 5 * 60
    assert item["sla"]["open_until"] == at(30, 17)
    desk.now[0] = at(30, 20)  # closed: no time passes
    assert (first()["state"], first()["left_seconds"]) == ("ok", 3 * 60)
    desk.now[0] = at(1, 9, 2, month=12)  # 1 minute of 5 left: under 25 %
    assert (first()["state"], first()["left_seconds"]) == ("at_risk", 60)
    desk.now[0] = at(1, 9, 5, month=12)
    assert (first()["state"], first()["left_seconds"]) == ("breached", -120)
    view = await desk.core.desk.case_view("maria", case_id)
    assert view["card"]["sla"]["first_response"]["state"] == "breached"
    assert view["card"]["sla"]["resolution"]["state"] == "ok"


async def test_a_breach_is_published_once_per_case_and_target_whichever_process_sees_it() -> None:
    desk = make_desk(at=at(30, 12))
    await desk.agent_online("maria")
    case_id = await ask_for_person(desk)
    watch = desk.core.sla_watch
    assert await watch.check() == 0  # not due yet
    desk.now[0] = at(30, 12, 6)
    assert await watch.check() == 1
    assert await watch.check() == 0
    # Another gateway process, sharing the same stores, finds it published already.
    other = SlaWatch(desk.cases, desk.agents, watch.sla, desk.core.bus, lambda: desk.now[0])
    assert await other.check() == 0
    assert breaches(desk) == [(case_id, "first_response", "")]

    # Taken and answered late: the first response is missed, not breached again; the
    # resolution target breaches once, with the agent who holds the case.
    await desk.core.desk.claim("maria", case_id)
    await desk.core.desk.reply("maria", case_id, "Hello, sorry for the wait")
    view = await desk.core.desk.case_view("maria", case_id)
    assert view["card"]["sla"]["first_response"]["state"] == "missed"
    desk.now[0] = at(30, 20, 30)  # 8 hours of opening time after 12:00: 17:00 + 3 h tomorrow
    assert await watch.check() == 0
    desk.now[0] = at(1, 12, 1, month=12)
    assert await watch.check() == 1
    assert await other.check() == 0
    assert breaches(desk)[1:] == [(case_id, "resolution", "maria")]


async def test_a_first_reply_in_time_meets_the_target_and_nothing_is_published() -> None:
    desk = make_desk(at=at(30, 12))
    await desk.agent_online("maria")
    case_id = await ask_for_person(desk)
    desk.now[0] = at(30, 12, 4)
    await desk.core.desk.claim("maria", case_id)
    await desk.core.desk.reply("maria", case_id, "Hi, I'm here")
    desk.now[0] = at(30, 12, 30)
    assert await desk.core.sla_watch.check() == 0
    await desk.core.desk.close("maria", case_id)
    view = await desk.core.desk.case_view("maria", case_id)
    assert view["card"]["sla"]["first_response"]["state"] == "met"
    assert view["card"]["sla"]["resolution"]["state"] == "met"
    assert breaches(desk) == []


async def test_a_customer_who_cancels_in_time_stops_the_clock() -> None:
    desk = make_desk(at=at(30, 12))
    case_id = await ask_for_person(desk)
    await desk.say("c1", "Cancel request", CANCEL_REQUEST)
    desk.now[0] = at(30, 13)
    assert await desk.core.sla_watch.check() == 0
    case = await desk.cases.get(case_id)
    view = desk.core.desk.sla_view(case, desk.now[0])
    assert view is not None and view["first_response"]["state"] == "stopped"


async def test_a_left_message_is_due_when_the_customer_was_promised_a_reply() -> None:
    desk = make_desk(at=at(30, 16, 30))
    await desk.open("c1")
    desk.bot.script["a person please"] = person()
    await desk.say("c1", "a person please")  # open, but nobody online
    await desk.say("c1", "Leave a message", LEAVE_MESSAGE)
    await desk.say("c1", "ana@example.com")
    await desk.say("c1", "Where are the laces of order 1042?")
    ((case_id, _),) = await desk.cases.messages()
    case = await desk.cases.get(case_id)
    assert float(case["sla_first_due"]) == float(case["promised_reply_at"])
    assert float(case["sla_first_due"]) == at(1, 10, 30, month=12)  # 2 h of opening time
    assert "sla_resolve_due" not in case  # the answer closes it: one target
    desk.now[0] = at(1, 10, 31, month=12)
    assert await desk.core.sla_watch.check() == 1
    assert breaches(desk) == [(case_id, "first_response", "")]
