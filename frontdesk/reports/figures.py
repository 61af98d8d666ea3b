"""The reports' figures, as tables, from per-day counters (reports/store.py).

Each report is one `Table`: the numbers under its chart on /console/reports, the rows of its CSV
export and the data its chart draws are the same rows, so they cannot disagree. Durations are
whole seconds (bucket upper edges: see buckets.py), shares are percentages with one decimal,
averages have two decimals; an empty cell means "no data".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from frontdesk.reports import buckets
from frontdesk.reports.contacts import REASONS
from frontdesk.reports.tables import (
    Cell,
    Figures,
    Table,
    avg,
    by_prefix,
    histogram,
    pct,
    seconds,
    series,
    shown,
)

REASON_LABELS = {
    "customer_asked": "Asked for a person",
    "bot_failed": "Bot could not answer (did not understand / not sure)",
    "not_answered": "“This didn't answer my question”",
    "topic": "Topic needs a person",
    "complaint": "Complaint",
}
SCORES = ("1", "2", "3", "4", "5")
TOP = 15


def compute(days: list[str], per_day: Mapping[str, Counter[str]], team: bool) -> Figures:
    """Every report over these days. team=False (one agent's own figures): only the reports
    that have an agent (waits, left messages answered, satisfaction, tags)."""
    total: Counter[str] = Counter()
    for day in days:
        total.update(per_day.get(day, Counter()))
    figures = Figures()
    figures.tiles = _tiles(total, team)
    if team:
        figures.tables.append(_conversations(days, per_day, total))
        figures.tables.append(_handoffs(total))
    figures.tables.append(_waits(days, per_day, total, team))
    figures.tables.append(_messages(days, per_day, total, team))
    figures.tables.append(_sla(total))
    figures.tables.append(_satisfaction(total))
    figures.tables.append(_tags(days, per_day, total))
    if team:
        figures.tables.extend(_answers(total))
    return figures


def _tiles(total: Counter[str], team: bool) -> list[tuple[str, str]]:
    frt = histogram(total, "frt_b:")
    queue = histogram(total, "queue_b:")
    tiles: list[tuple[str, str]] = []
    if team:
        conversations = total["conv"]
        tiles += [
            ("Conversations", str(conversations)),
            ("Containment", shown(pct(total["contained"], conversations), " %")),
            ("Handoff rate", shown(pct(total["handoff"], conversations), " %")),
        ]
    tiles += [
        ("First response, median", buckets.duration_text(buckets.percentile(frt, 0.5))),
        ("First response, p90", buckets.duration_text(buckets.percentile(frt, 0.9))),
        ("Time in queue, median", buckets.duration_text(buckets.percentile(queue, 0.5))),
        ("Waits within the first quote", shown(pct(total["quote_kept"], total["quoted"]), " %")),
        ("First response within target", shown(_met(total, "first"), " %")),
        ("Resolved within target", shown(_met(total, "resolve"), " %")),
        ("CSAT", shown(avg(by_prefix(total, "csat:")), " / 5")),
        ("Effort (5 = easy)", shown(avg(by_prefix(total, "effort:")), " / 5")),
    ]
    return tiles


def _conversations(
    days: list[str], per_day: Mapping[str, Counter[str]], total: Counter[str]
) -> Table:
    columns = [
        "Day",
        "New conversations opened",
        "Conversations",
        "Answered by the bot",
        "Contained",
        "Handed off",
        "Containment %",
        "Handoff rate %",
    ]

    def row(label: str, c: Counter[str]) -> list[Cell]:
        conv = c["conv"]
        return [
            label,
            c["opened"],
            conv,
            c["answered"],
            c["contained"],
            c["handoff"],
            pct(c["contained"], conv),
            pct(c["handoff"], conv),
        ]

    rows = [row(day, per_day.get(day, Counter())) for day in days]
    chart = series(
        days,
        [
            ("Conversations", [r[2] for r in rows]),
            ("Contained", [r[4] for r in rows]),
            ("Handed off", [r[5] for r in rows]),
        ],
    )
    return Table(
        "conversations",
        "Conversations and the bot's containment",
        columns,
        [*rows, row("Total", total)],
        chart,
        "A conversation: a customer asked the bot something or asked for a person (a widget "
        "opened and never used is only “opened”). Contained: answered by the bot, with no "
        "handoff and no left message.",
        team_only=True,
    )


def _handoffs(total: Counter[str]) -> Table:
    reasons = list(REASONS) + sorted(
        {m.split(":", 1)[1] for m in total if m.startswith("handoff:")} - set(REASONS)
    )
    rows: list[list[Cell]] = [
        [
            REASON_LABELS.get(reason, reason),
            reason,
            total[f"handoff:{reason}"],
            pct(total[f"handoff:{reason}"], total["handoff"]),
            pct(total[f"handoff:{reason}"], total["conv"]),
        ]
        for reason in reasons
    ]
    rows.append(
        [
            "All handoffs",
            "",
            total["handoff"],
            pct(total["handoff"], total["handoff"]),
            pct(total["handoff"], total["conv"]),
        ]
    )
    chart = series(
        [str(r[0]) for r in rows[:-1]],
        [("Handoffs", [r[2] for r in rows[:-1]])],
        horizontal=True,
    )
    return Table(
        "handoffs",
        "Handoffs by reason",
        ["Reason", "Code", "Handoffs", "Share of handoffs %", "% of conversations"],
        rows,
        chart,
        "A plain request for a person counts as “bot could not answer” when the bot declined "
        "the customer's message just before, and as “didn't answer my question” when the "
        "customer had rated an answer “no”.",
        team_only=True,
    )


def _wait_row(label: str, c: Counter[str], team: bool) -> list[Cell]:
    queue, frt = histogram(c, "queue_b:"), histogram(c, "frt_b:")
    row: list[Cell] = [label]
    if team:
        left = histogram(c, "abandon_b:")
        row += [
            c["cases"],
            c["abandoned"],
            pct(c["abandoned"], c["cases"]),
            c["left_line"],
            seconds(buckets.percentile(left, 0.5)),
        ]
    row += [
        c["assigned"],
        seconds(buckets.percentile(queue, 0.5)),
        seconds(buckets.percentile(queue, 0.9)),
        c["first_replies"],
        seconds(buckets.percentile(frt, 0.5)),
        seconds(buckets.percentile(frt, 0.9)),
        c["quoted"],
        c["quote_kept"],
        pct(c["quote_kept"], c["quoted"]),
    ]
    return row


def _waits(
    days: list[str], per_day: Mapping[str, Counter[str]], total: Counter[str], team: bool
) -> Table:
    columns = ["Day"]
    if team:
        columns += [
            "Requests (live)",
            "Gave up waiting",
            "Abandonment %",
            "Left the page while waiting",
            "Time to abandon, median (s)",
        ]
    columns += [
        "Taken by an agent",
        "Time in queue, median (s)",
        "Time in queue, p90 (s)",
        "First replies",
        "First response, median (s)",
        "First response, p90 (s)",
        "Quoted waits",
        "Within the first quote",
        "Within the first quote %",
    ]
    rows = [_wait_row(day, per_day.get(day, Counter()), team) for day in days]
    at = columns.index
    chart = series(
        days,
        [
            (columns[i], [r[i] for r in rows])
            for i in (
                at("First response, median (s)"),
                at("First response, p90 (s)"),
                at("Time in queue, median (s)"),
                at("Time in queue, p90 (s)"),
            )
        ],
        kind="line",
    )
    return Table(
        "waits",
        "First response and time in queue",
        columns,
        [*rows, _wait_row("Total", total, team)],
        chart,
        "Medians and 90th percentiles are upper bounds (“at most”), read from buckets of 1 s "
        "up to 10 s, 5 s up to a minute, 15 s up to 5 minutes, then minutes. The honesty "
        "figure: waits no longer than the upper end of the first quote the customer saw. "
        "Gave up waiting: cancelled, chose to leave a message instead, or left the page for "
        "longer than the abandonment rule allows (flows/waits.yml); time to abandon: from the "
        "request to leaving the line.",
    )


def _messages(
    days: list[str], per_day: Mapping[str, Counter[str]], total: Counter[str], team: bool
) -> Table:
    left = ["Messages left"] if team else []
    columns = [
        "Day",
        *left,
        "Answered",
        "Answered in time",
        "Closed without a reply",
        "Answered in time %",
    ]

    def row(label: str, c: Counter[str]) -> list[Cell]:
        count = [c["msg_left"]] if team else []
        return [
            label,
            *count,
            c["msg_answered"],
            c["msg_in_time"],
            c["msg_closed"],
            pct(c["msg_in_time"], c["msg_answered"]),
        ]

    rows = [row(day, per_day.get(day, Counter())) for day in days]
    names = columns[1:-1]
    chart = series(days, [(name, [r[1 + i] for r in rows]) for i, name in enumerate(names)])
    return Table(
        "messages",
        "Messages left, and answered within the promised time",
        columns,
        [*rows, row("Total", total)],
        chart,
        "Answered: an agent answered it (by e-mail, or in the chat), counted once; in time: "
        "no later than the reply time promised to the customer. Closed without a reply: "
        "closed in frontdesk with no answer from it (e.g. answered from the agent's own "
        "mailbox). Counted on the day the message was left.",
    )


def _met(c: Mapping[str, int], target: str) -> float | None:
    met, missed = c.get(f"sla_{target}_met", 0), c.get(f"sla_{target}_missed", 0)
    return pct(met, met + missed)


def _sla(total: Counter[str]) -> Table:
    """Service-level targets met, in all and by channel, FAQ area and agent (reports/sla.py)."""
    groups: dict[tuple[str, str], Counter[str]] = {}
    for metric, n in by_prefix(total, "sla_by:").items():
        target, outcome, dimension, value = metric.split(":", 3)
        groups.setdefault((dimension, value), Counter())[f"sla_{target}_{outcome}"] += n

    def row(label: str, value: str, c: Mapping[str, int]) -> list[Cell]:
        cells: list[Cell] = [label, value]
        for target in ("first", "resolve"):
            met, missed = c.get(f"sla_{target}_met", 0), c.get(f"sla_{target}_missed", 0)
            cells += [met, missed, _met(c, target)]
        return cells

    rows = [row("All cases", "", total)]
    for dimension in ("channel", "area", "agent"):
        for (name, value), counts in sorted(groups.items()):
            if name == dimension:
                shown_value = "(none)" if value == "-" else value
                rows.append(row(dimension.capitalize(), shown_value, counts))
    labels = [f"{r[0]}: {r[1]}" if r[1] else str(r[0]) for r in rows]
    chart = series(
        labels,
        [
            ("First response met %", [r[4] for r in rows]),
            ("Resolution met %", [r[7] for r in rows]),
        ],
        horizontal=True,
    )
    return Table(
        "sla",
        "Service-level targets met, by channel, area and agent",
        [
            "Group",
            "Value",
            "First response in time",
            "First response late",
            "First response met %",
            "Resolved in time",
            "Resolved late",
            "Resolution met %",
        ],
        rows,
        chart,
        "Targets from flows/sla.yml, counted in opening hours; a left message's target is the "
        "reply time promised to the customer (its answer closes it: first response only). "
        "Late: answered or resolved after the deadline, or the deadline passed first (the lead "
        "was alerted). Agent: who replied first, closed the case, or held it at the breach "
        "(none: still waiting). Counted on the day the case was requested.",
    )


def _satisfaction(total: Counter[str]) -> Table:
    csat, effort = by_prefix(total, "csat:"), by_prefix(total, "effort:")
    rows: list[list[Cell]] = [[score, csat[score], effort[score]] for score in SCORES]
    rows.append(["Answers", sum(csat.values()), sum(effort.values())])
    rows.append(["Average", avg(csat), avg(effort)])
    chart = series(
        list(SCORES),
        [("CSAT", [r[1] for r in rows[:5]]), ("Effort (5 = easy)", [r[2] for r in rows[:5]])],
    )
    return Table(
        "satisfaction",
        "Satisfaction (CSAT) and customer effort",
        ["Score", "CSAT answers", "Effort answers"],
        rows,
        chart,
        "After the close: “How satisfied are you?” and “How easy was it to get help today?”, "
        "1 to 5. Counted on the day the case was requested.",
    )


def _tags(days: list[str], per_day: Mapping[str, Counter[str]], total: Counter[str]) -> Table:
    tags = sorted(by_prefix(total, "tag:"), key=lambda t: (-total[f"tag:{t}"], t))
    rows: list[list[Cell]] = [
        [day, *(per_day.get(day, Counter())[f"tag:{t}"] for t in tags)] for day in days
    ]
    rows.append(["Total", *(total[f"tag:{t}"] for t in tags)])
    chart = series(
        days,
        [(tag, [r[1 + i] for r in rows[:-1]]) for i, tag in enumerate(tags)],
        stacked=True,
    )
    return Table(
        "tags",
        "Why customers wrote (tags on closed cases), by day",
        ["Day", *tags],
        rows,
        chart,
        "Tags agents set on the cases they closed (flows/tags.yml), on the day the case was "
        "requested." + ("" if tags else " No tagged cases in this period."),
    )


def _answers(total: Counter[str]) -> list[Table]:
    served, no = by_prefix(total, "answer:"), by_prefix(total, "rated_no:")
    yes = by_prefix(total, "rated_yes:")

    def row(answer: str) -> list[Cell]:
        rated = yes[answer] + no[answer]
        return [answer, served[answer], yes[answer], no[answer], pct(no[answer], rated)]

    columns = ["FAQ answer", "Served", "Rated “yes”", "Rated “no”", "“No” share %"]
    most = [row(a) for a in sorted(served, key=lambda a: (-served[a], a))[:TOP]]
    worst = [row(a) for a in sorted(no, key=lambda a: (-no[a], a))[:TOP]]
    return [
        Table(
            "answers",
            "FAQ answers served most",
            columns,
            most,
            series([str(r[0]) for r in most], [("Served", [r[1] for r in most])], horizontal=True),
            team_only=True,
        ),
        Table(
            "not_answered",
            "Answers rated “did not answer” most",
            columns,
            worst,
            series(
                [str(r[0]) for r in worst], [("Rated “no”", [r[3] for r in worst])], horizontal=True
            ),
            "What to improve first: these answers were given and the customer said they did "
            "not answer the question (see also /console/unanswered).",
            team_only=True,
        ),
    ]
