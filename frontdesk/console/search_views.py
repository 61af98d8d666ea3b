"""/console/search: find a conversation by the words said, an e-mail address, an order number,
a conversation or case id; filters by channel, language, FAQ area, agent, state and dates.
/console/search/conversation/<id>: its transcript with each case's card, read-only.

Who finds what (console/roles.py):
- a plain agent: the conversations of the cases they took (or answered by e-mail), and the
  customers every agent already sees in the console — waiting in the live queue or with a
  left message to answer. Filtering by another agent narrows that, it never widens it; opening
  any other conversation answers 403.
- leads and admins: every conversation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from yarl import URL

from frontdesk.console.keys import DESK
from frontdesk.console.labels import labels_of
from frontdesk.console.reports_views import CHANNELS
from frontdesk.console.roles import SignedIn, forbidden, signed_in
from frontdesk.console.views import _csrf
from frontdesk.core.casecard import card
from frontdesk.core.conversation import AREAS
from frontdesk.search import Filters, Search, Viewer
from frontdesk.search.service import VISIBLE_TO_ALL
from frontdesk.search.text import snippet
from frontdesk.store.cases import CaseStore

SEARCH = web.AppKey("search", Search)
STATES = {
    "bot": "With the bot",
    "queued": "Waiting for a person",
    "agent": "With an agent",
    "survey": "Answering the survey",
    "leave_message": "Leaving a message",
    "left_message": "Message left",
}
NOT_YOURS = "Only leads and admins can read conversations other agents handled."
MAX_QUERY = 200


def _date(value: str, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a date as YYYY-MM-DD") from None


async def _filters(request: web.Request) -> tuple[Filters, dict[str, tuple[str, ...]]]:
    desk = request.config_dict[DESK]
    choices = {
        "channel": CHANNELS,
        "language": desk.templates.languages,
        "area": AREAS,
        "agent": tuple(await desk.agents.names()),
        "state": tuple(STATES),
    }
    values = {name: request.query.get(name, "").strip() for name in choices}
    for name, value in values.items():
        if value and value not in choices[name]:
            raise web.HTTPBadRequest(text=f"unknown {name} {value!r}")
    since = _date(request.query.get("from", "").strip(), "from")
    until = _date(request.query.get("to", "").strip(), "to")
    return Filters(**values, since=since, until=until), choices


def _page(request: web.Request) -> int:
    try:
        return max(int(request.query.get("page", "1")), 1)
    except ValueError:
        raise web.HTTPBadRequest(text="page must be a number") from None


def conversation_url(conversation_id: str) -> str:
    return "/console/search/conversation/" + quote(conversation_id, safe="")


def _when(zone: dt.tzinfo, moment: float) -> str:
    if moment <= 0:
        return ""
    return dt.datetime.fromtimestamp(moment, zone).strftime("%Y-%m-%d %H:%M")


async def _agent_options(request: web.Request, names: tuple[str, ...]) -> list[tuple[str, str]]:
    desk = request.config_dict[DESK]
    options = []
    for name in names:
        shown = (await desk.agents.get(name)).get("display_name") or name
        options.append((name, shown if shown == name else f"{shown} ({name})"))
    return options


async def search_page(request: web.Request) -> web.Response:
    who = await signed_in(request)
    filters, choices = await _filters(request)
    text = request.query.get("q", "").strip()[:MAX_QUERY]
    page = _page(request)
    search = request.config_dict[SEARCH]
    results = await search.find(text, filters, Viewer(who.name, who.lead), page)
    desk = request.config_dict[DESK]
    labels = labels_of(desk.flows, desk.templates.default_language)
    zone = request.config_dict[SEARCH].zone
    rows = []
    for hit in results.hits:
        shown: list[Any] = []
        for message in reversed(hit.messages):  # the latest words found
            segments = snippet(message.text, results.query.stems, hit.language)
            if segments:
                shown = segments
                break
        if not shown and hit.messages:
            shown = [(hit.messages[-1].text[:160], False)]
        rows.append({"hit": hit, "snippet": shown, "when": _when(zone, hit.last)})
    params = {k: v for k, v in request.query.items() if k != "page" and v}
    context = {
        "title": "Search · frontdesk",
        "who": who,
        "csrf_token": _csrf(who.session),
        "q": text,
        "filters": filters,
        "options": {
            **{n: labels.choices(n, choices[n]) for n in ("channel", "language", "area")},
            "agent": await _agent_options(request, choices["agent"]),
            "state": list(STATES.items()),
        },
        "rows": rows,
        "results": results,
        "searched": bool(request.query),
        "labels": labels,
        "states": STATES,
        "page_number": page,
        "previous": str(URL("/console/search").with_query({**params, "page": page - 1})),
        "next": str(URL("/console/search").with_query({**params, "page": page + 1})),
        "conversation_url": conversation_url,
    }
    return aiohttp_jinja2.render_template("search.html", request, context)


async def _may_read(who: SignedIn, fields: dict[str, str], cases: list[dict[str, str]]) -> bool:
    if who.lead or fields.get("state") in VISIBLE_TO_ALL:
        return True
    return any(who.name in (c.get("agent"), c.get("answered_by")) for c in cases)


async def conversation_page(request: web.Request) -> web.Response:
    who = await signed_in(request)
    conversation_id = request.match_info["conversation_id"]
    desk = request.config_dict[DESK]
    fields = await desk.store.get_conversation(conversation_id)
    cases = [
        c
        for c in await CaseStore(request.config_dict[SEARCH].redis).cases_of(conversation_id)
        if len(c) > 2
    ]
    if not fields and not cases:
        raise web.HTTPNotFound(text="no such conversation (erased, or never stored)")
    if not await _may_read(who, fields, cases):
        raise forbidden(NOT_YOURS)
    transcript = [desk.sign(e) for e in await desk.store.history(conversation_id, 0, 1000)]
    zone = request.config_dict[SEARCH].zone
    context = {
        "title": "Conversation · frontdesk",
        "who": who,
        "csrf_token": _csrf(who.session),
        "conversation_id": conversation_id,
        "fields": fields,
        "cards": [card(c, transcript, desk.flows.reasons) for c in cases],
        "transcript": transcript,
        "labels": labels_of(desk.flows, desk.templates.default_language),
        "states": STATES,
        "when": lambda moment: _when(zone, float(moment or 0)),
    }
    return aiohttp_jinja2.render_template("search_conversation.html", request, context)


def add_routes(console: web.Application) -> None:
    console.router.add_get("/search", search_page)
    console.router.add_get("/search/conversation/{conversation_id}", conversation_page)
