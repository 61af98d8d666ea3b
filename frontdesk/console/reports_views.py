"""/console/reports: the figures, a chart and a table per report, and each report as CSV.

Query parameters (the filter form): period today | 7d | 30d | custom (with from, to as
YYYY-MM-DD), channel, language, area, agent; `reports.csv` also takes report=<key>. Roles:
see console/roles.py (a plain agent gets their own figures, and 403 for anyone else's).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from yarl import URL

from frontdesk.console import unanswered_views
from frontdesk.console.keys import DESK, REPORTS
from frontdesk.console.labels import labels_of
from frontdesk.console.roles import SignedIn, forbidden, signed_in
from frontdesk.console.views import _csrf
from frontdesk.core.conversation import AREAS
from frontdesk.errors import BadInput
from frontdesk.reports import Figures, Filters, Period, Table
from frontdesk.reports.period import PERIODS
from frontdesk.reports.tables import Cell

HERE = Path(__file__).resolve().parent
VENDOR = {"chart.umd.min.js": HERE / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"}
CHANNELS = ("widget", "telegram", "messenger")
PERIOD_LABELS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days", "custom": "Dates"}


async def _choices(request: web.Request) -> dict[str, tuple[str, ...]]:
    desk = request.config_dict[DESK]
    return {
        "channel": CHANNELS,
        "language": desk.templates.languages,
        "area": AREAS,
        "agent": tuple(await desk.agents.names()),
    }


async def _query(request: web.Request, who: SignedIn) -> tuple[Period, Filters, dict[str, Any]]:
    """The period and filters asked for, checked against the choices and the role."""
    query = request.query
    choices = await _choices(request)
    values = {name: query.get(name, "").strip() for name in choices}
    for name, value in values.items():
        if value and value not in choices[name]:
            raise web.HTTPBadRequest(text=f"unknown {name} {value!r}")
    if not who.lead:
        if values["agent"] and values["agent"] != who.name:
            raise forbidden("Only leads and admins can see another agent's figures.")
        values["agent"] = who.name
    try:
        period = request.config_dict[REPORTS].period(
            query.get("period", "7d"), query.get("from", ""), query.get("to", "")
        )
    except BadInput as exc:
        raise web.HTTPBadRequest(text=exc.message) from None
    filters = Filters(values["channel"], values["language"], values["area"], values["agent"])
    return period, filters, choices


def _params(period: Period, filters: Filters) -> dict[str, str]:
    params = {"period": period.name}
    if period.name == "custom":
        params.update({"from": period.start.isoformat(), "to": period.end.isoformat()})
    for name, value in zip(("channel", "language", "area", "agent"), filters.values(), strict=True):
        if value:
            params[name] = value
    return params


async def _figures(request: web.Request) -> tuple[SignedIn, Period, Filters, Figures, Any]:
    who = await signed_in(request)
    period, filters, choices = await _query(request, who)
    team = who.lead and not filters.agent
    figures = await request.config_dict[REPORTS].figures(period, filters, team)
    return who, period, filters, figures, choices


async def _options(
    request: web.Request, choices: dict[str, tuple[str, ...]]
) -> dict[str, list[tuple[str, str]]]:
    """The filters' options as (code, what the agent reads): "widget" reads "Website", an
    agent's name their display name."""
    desk = request.config_dict[DESK]
    labels = labels_of(desk.flows, desk.templates.default_language)
    options = {
        name: labels.choices(name, choices[name]) for name in ("channel", "language", "area")
    }
    agents = []
    for name in choices["agent"]:
        shown = (await desk.agents.get(name)).get("display_name") or name
        agents.append((name, shown if shown == name else f"{shown} ({name})"))
    options["agent"] = agents
    return options


def show(value: Cell) -> str:
    return "" if value is None else str(value)


async def reports_page(request: web.Request) -> web.Response:
    who, period, filters, figures, choices = await _figures(request)
    params = _params(period, filters)
    csv_urls = {
        t.key: str(URL("/console/reports.csv").with_query({**params, "report": t.key}))
        for t in figures.tables
    }
    context = {
        "title": "Reports · frontdesk",
        "who": who,
        "csrf_token": _csrf(who.session),
        "period": period,
        "periods": [(key, PERIOD_LABELS[key]) for key in (*PERIODS, "custom")],
        "filters": filters,
        "choices": choices,
        "options": await _options(request, choices),
        "figures": figures,
        "csv_urls": csv_urls,
        "show": show,
        "own": not who.lead,
        "team": who.lead and not filters.agent,
    }
    return aiohttp_jinja2.render_template("reports.html", request, context)


def _csv_cell(value: Cell) -> str:
    """A cell as text; text a spreadsheet would run as a formula (customers' comments) is
    quoted with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return str(value)


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_csv_cell(v) for v in row])
    return out.getvalue()


async def reports_csv(request: web.Request) -> web.Response:
    who, period, _, figures, _ = await _figures(request)
    key = request.query.get("report", "")
    table = figures.table(key)
    if table is None:
        team_only = key in ("conversations", "handoffs", "answers", "not_answered")
        if team_only and not who.lead:
            raise forbidden("Only leads and admins can see the team's reports.")
        raise web.HTTPNotFound(text=f"no report {key!r} here")
    name = f"frontdesk-{key}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return web.Response(
        text=table_csv(table),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def vendor_file(request: web.Request) -> web.StreamResponse:
    """The charting library (Chart.js, pinned in console/package.json, installed by `make
    setup`), served from this origin so the console's CSP (script-src 'self') holds."""
    path = VENDOR.get(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound(text="no such file")
    if not path.is_file():
        raise web.HTTPServiceUnavailable(text="Chart.js is not installed: run `make setup`")
    return web.FileResponse(
        path, headers={"Content-Type": "text/javascript", "Cache-Control": "max-age=3600"}
    )


def add_routes(console: web.Application) -> None:
    console.router.add_get("/reports", reports_page)
    console.router.add_get("/reports.csv", reports_csv)
    console.router.add_get("/vendor/{name}", vendor_file)
    unanswered_views.add_routes(console)
