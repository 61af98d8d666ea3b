"""Service-level targets (flows/sla.yml): how soon a person first answers a customer who asked
for one, and how soon the case is resolved — counted in OPENING hours (flows/hours.yml).

A case's deadlines are computed once, when the case is created (core/handoff.py), and stored
on it as `sla_first_due` / `sla_resolve_due` (unix seconds) with the targets they came from
(`sla_first_target` / `sla_resolve_target`, seconds of opening time): every gateway process,
the console and the reports read the same deadlines, and editing flows/sla.yml changes the
cases created after it, never a promise already running.

- **Live chats**: first response = the agent's first reply in the chat (`first_reply_at`);
  resolution = the case closed (`closed_at`).
- **Left messages** (answered by e-mail, or in the chat on WhatsApp): the target is the reply
  time the customer was promised (`promised_reply_at`, reply_within_hours of opening time):
  we measure ourselves against what we told the customer, never a laxer internal figure. The
  answer closes the case, so a left message has one target, its first response (met when the
  answer, `answered_at`/`first_reply_at` — or the case closed without one — is no later than
  the promise); it has no separate resolution target.

"Time left" is opening time left: a case due at 09:30 on Monday, looked at on Saturday
evening, has the 30 minutes of Monday morning left, not a day and a half. A target is *at
risk* when less than `at_risk_below` of it is left, *breached* once its deadline has passed
with nothing done; once done it is *met* or *missed*. A customer who cancelled or left the
line before anyone answered ends the clock (*stopped*), unless the target was already breached.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from frontdesk.core.hours import Hours
from frontdesk.errors import ConfigError

FIRST, RESOLVE = "first", "resolve"  # the case fields' infixes: sla_first_due, sla_resolve_due
TARGETS = {FIRST: "first_response", RESOLVE: "resolution"}  # as flows/sla.yml names them
ENDED = ("cancelled", "abandoned")
DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(h|hours?|m|min|minutes?|s|sec|seconds?)\s*", re.I)
UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}


@dataclass(frozen=True)
class Targets:
    """Seconds of opening time; None: no target of that kind."""

    first: float | None = None
    resolve: float | None = None

    def over(self, base: Targets) -> Targets:
        return Targets(
            self.first if self.first is not None else base.first,
            self.resolve if self.resolve is not None else base.resolve,
        )


@dataclass(frozen=True)
class SlaPolicy:
    """flows/sla.yml. The most specific rule that sets a target wins, target by target: area and
    channel, then channel, then area, then the default."""

    default: Targets = Targets(first=5 * 60.0, resolve=8 * 3600.0)
    areas: dict[str, Targets] = field(default_factory=dict)
    channels: dict[str, Targets] = field(default_factory=dict)
    pairs: dict[tuple[str, str], Targets] = field(default_factory=dict)
    at_risk_below: float = 0.25
    check_every_seconds: float = 15.0

    def targets(self, area: str, channel: str) -> Targets:
        chosen = self.default
        for found in (
            self.areas.get(area),
            self.channels.get(channel),
            self.pairs.get((area, channel)),
        ):
            if found is not None:
                chosen = found.over(chosen)
        return chosen


def parse_duration(path: Path, value: Any) -> float:
    """'5m', '90 min', '2h', '1h30m', '45s' (a bare number is minutes) -> seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{path}: {value!r} is not a duration like 5m, 2h or 1h30m")
    if isinstance(value, int | float):
        seconds = float(value) * 60
    else:
        words, seconds, at = str(value).strip(), 0.0, 0
        for match in DURATION.finditer(words):
            if match.start() != at:
                break
            seconds += float(match.group(1)) * UNIT_SECONDS[match.group(2)[0].lower()]
            at = match.end()
        if at != len(words) or not words:
            raise ConfigError(f"{path}: {value!r} is not a duration like 5m, 2h or 1h30m")
    if seconds <= 0:
        raise ConfigError(f"{path}: a target must be longer than zero, not {value!r}")
    return seconds


def _targets(path: Path, rule: Any, where: str, allowed: set[str]) -> Targets:
    if not isinstance(rule, dict):
        raise ConfigError(f"{path}: {where} should be a mapping like {{first_response: 5m}}")
    unknown = set(map(str, rule)) - allowed
    if unknown:
        raise ConfigError(
            f"{path}: {where} has unknown keys {sorted(unknown)}; known: {sorted(allowed)}"
        )
    values = {
        kind: parse_duration(path, rule[name]) if rule.get(name) is not None else None
        for kind, name in TARGETS.items()
    }
    return Targets(values[FIRST], values[RESOLVE])


def load_sla(flows_dir: Path) -> SlaPolicy:
    """Read flows/sla.yml; without it, the defaults (5 minutes, 8 hours, 25 %)."""
    path = flows_dir / "sla.yml"
    if not path.is_file():
        return SlaPolicy()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top")
    known = {"at_risk_below", "check_every_seconds", "targets"}
    if set(map(str, data)) - known:
        raise ConfigError(f"{path}: unknown keys {sorted(set(map(str, data)) - known)}")
    policy = SlaPolicy()
    default = policy.default
    areas: dict[str, Targets] = {}
    channels: dict[str, Targets] = {}
    pairs: dict[tuple[str, str], Targets] = {}
    rules = data.get("targets") or []
    if not isinstance(rules, list):
        raise ConfigError(f"{path}: targets is a list of rules")
    names = {"area", "channel", *TARGETS.values()}
    for number, rule in enumerate(rules, 1):
        where = f"rule {number} of targets"
        found = _targets(path, rule, where, names)
        area, channel = str(rule.get("area") or ""), str(rule.get("channel") or "")
        if area and channel:
            pairs[(area, channel)] = found.over(pairs.get((area, channel), Targets()))
        elif channel:
            channels[channel] = found.over(channels.get(channel, Targets()))
        elif area:
            areas[area] = found.over(areas.get(area, Targets()))
        else:
            default = found.over(default)
    share = data.get("at_risk_below", policy.at_risk_below)
    if isinstance(share, str) and share.strip().endswith("%"):
        share = share.strip()[:-1]
    try:
        risk = float(share)
        risk = risk / 100 if risk > 1 else risk
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: at_risk_below is a share like 25% or 0.25") from None
    if not 0 <= risk < 1:
        raise ConfigError(f"{path}: at_risk_below must be between 0 and 100 %")
    try:
        every = float(data.get("check_every_seconds", policy.check_every_seconds))
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: check_every_seconds must be a number") from None
    if every < 1:
        raise ConfigError(f"{path}: check_every_seconds must be at least 1")
    return SlaPolicy(default, areas, channels, pairs, risk, every)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def done_at(case: Mapping[str, str], target: str) -> float | None:
    """When the target was reached: the first answer, or the close."""
    closed = _float(case.get("closed_at")) if case.get("state") == "closed" else None
    if target == RESOLVE:
        return closed
    answers = [_float(case.get(k)) for k in ("first_reply_at", "answered_at")]
    if case.get("kind") == "message":  # closing a left message answers it (from a mailbox)
        answers.append(closed)
    found = [t for t in answers if t is not None]
    return min(found) if found else None


@dataclass
class Sla:
    """Deadlines for new cases, and where a case stands against them."""

    policy: SlaPolicy
    hours: Hours
    clock: Callable[[], float] = time.time

    def _moment(self, seconds: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, self.hours.zone)

    def _after(self, start: float, span: float) -> float:
        return self.hours.after_open_time(
            self._moment(start), dt.timedelta(seconds=span)
        ).timestamp()

    def open_seconds(self, start: float, end: float) -> float:
        return self.hours.open_between(self._moment(start), self._moment(end)).total_seconds()

    def stamp(self, fields: Mapping[str, str]) -> dict[str, str]:
        """The deadline fields of a case being created (fields: the case's)."""
        requested = _float(fields.get("requested_at")) or self.clock()
        if fields.get("kind") == "message" or fields.get("promised_reply_at"):
            promised = _float(fields.get("promised_reply_at"))
            if promised is None:  # a message with no promise: the reply_within of flows/hours.yml
                promised = self._after(requested, self.hours.reply_within.total_seconds())
            target = self.open_seconds(requested, promised)
            return {"sla_first_due": f"{promised:.3f}", "sla_first_target": f"{target:.0f}"}
        targets = self.policy.targets(fields.get("area", ""), fields.get("channel", ""))
        stamped: dict[str, str] = {}
        for kind, span in ((FIRST, targets.first), (RESOLVE, targets.resolve)):
            if span is not None:
                stamped[f"sla_{kind}_due"] = f"{self._after(requested, span):.3f}"
                stamped[f"sla_{kind}_target"] = f"{span:.0f}"
        return stamped

    def one(self, case: Mapping[str, str], target: str, now: float) -> dict[str, Any] | None:
        due = _float(case.get(f"sla_{target}_due"))
        if due is None:
            return None
        span = _float(case.get(f"sla_{target}_target")) or 0.0
        finished = done_at(case, target)
        shown: dict[str, Any] = {
            "due_at": due,
            "target_seconds": span,
            "done_at": finished,
            "left_seconds": None,
        }
        if finished is not None:
            shown["state"] = "met" if finished <= due else "missed"
            return shown
        if case.get("state") in ENDED:  # the customer went before anyone answered
            ended = _float(case.get("closed_at")) or now
            shown["state"] = "breached" if ended >= due else "stopped"
            return shown
        if now >= due:
            shown["state"] = "breached"
            shown["left_seconds"] = -round(self.open_seconds(due, now), 1)
            return shown
        left = self.open_seconds(now, due)
        shown["left_seconds"] = round(left, 1)
        shown["state"] = "at_risk" if span and left < self.policy.at_risk_below * span else "ok"
        return shown

    def view(self, case: Mapping[str, str], now: float | None = None) -> dict[str, Any] | None:
        """Where the case stands (None: it has no targets — a case from before flows/sla.yml).
        `now`, `open_until` (the end of the opening hours running now) and `opens_at` (when
        closed now, the next opening) let the console count the time left down by itself:
        opening time passes only while open."""
        now = self.clock() if now is None else now
        first, resolve = self.one(case, FIRST, now), self.one(case, RESOLVE, now)
        if first is None and resolve is None:
            return None
        moment = self._moment(now)
        closes = self.hours.closes_at(moment) if not self.hours.always_open else None
        is_open = self.hours.always_open or closes is not None
        opens = None if is_open else self.hours.next_opening(moment).timestamp()
        return {
            "first_response": first,
            "resolution": resolve,
            "at_risk_below": self.policy.at_risk_below,
            "now": now,
            "open_until": closes.timestamp() if closes is not None else None,
            "opens_at": opens,
        }
