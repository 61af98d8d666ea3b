"""/console/transcript/<conversation id>: one conversation's transcript as a page to print or
save as PDF (print CSS: no console chrome, every message whole on a page).

Who may read it (console/roles.py), as for reading a case: leads and admins every
conversation; a plain agent the conversations of the cases she took or answered, those every
agent sees in the console (a customer waiting in the live queue, a left message to answer), and
a live chat another agent has (which she may open, and take over, in the console).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from frontdesk.console.keys import DESK
from frontdesk.console.roles import SignedIn, forbidden, signed_in
from frontdesk.console.search_views import SEARCH
from frontdesk.core.casecard import customer_label
from frontdesk.search.service import VISIBLE_TO_ALL

NOT_YOURS = "Only leads and admins can read conversations other agents handled."
MAX_ENTRIES = 5000
ROLES = {"customer": "Customer", "bot": "Bot", "system": "frontdesk"}


def may_read(who: SignedIn, fields: Mapping[str, str], cases: list[dict[str, str]]) -> bool:
    if who.lead or fields.get("state") in VISIBLE_TO_ALL:
        return True
    if any(c.get("state") == "agent" and c.get("agent") for c in cases):
        return True  # a live chat: any agent may read it (who is on it, "Take over")
    return any(who.name in (c.get("agent"), c.get("answered_by")) for c in cases)


def _who(entry: Mapping[str, Any]) -> str:
    role = str(entry.get("role") or "system")
    if role == "agent":
        return str(entry.get("sender_name") or "Agent")
    return ROLES.get(role, "frontdesk")


async def transcript_page(request: web.Request) -> web.Response:
    who = await signed_in(request)
    conversation_id = request.match_info["conversation_id"]
    desk = request.config_dict[DESK]
    fields = await desk.store.get_conversation(conversation_id)
    case_ids = await desk.cases.customer_cases(conversation_id, limit=100)
    cases = await desk.cases.get_many(case_ids)
    if not fields and not cases:
        raise web.HTTPNotFound(text="no such conversation (erased, or never stored)")
    if not may_read(who, fields, cases):
        raise forbidden(NOT_YOURS)
    zone = request.config_dict[SEARCH].zone  # the business time zone (flows/hours.yml)

    def when(moment: Any, form: str = "%Y-%m-%d %H:%M") -> str:
        try:
            value = float(moment or 0)
        except (TypeError, ValueError):
            return ""
        return dt.datetime.fromtimestamp(value, zone).strftime(form) if value > 0 else ""

    history = await desk.store.history(conversation_id, 0, MAX_ENTRIES)
    entries = [
        {
            "seq": e.get("seq"),
            "day": when(e.get("ts"), "%Y-%m-%d"),
            "time": when(e.get("ts"), "%H:%M"),
            "role": str(e.get("role") or "system"),
            "who": _who(e),
            "text": str(e.get("text") or ""),
            "attachment": desk.sign(e).get("attachment"),
        }
        for e in history
    ]
    label = customer_label(cases[0]) if cases else ""
    context = {
        "title": f"Transcript · {label or conversation_id} · frontdesk",
        "who": who,
        "conversation_id": conversation_id,
        "customer": fields.get("customer_name") or fields.get("customer_email") or label,
        "fields": fields,
        "cases": sorted(cases, key=lambda c: float(c.get("requested_at") or 0)),
        "entries": entries,
        "zone": str(zone),
        "when": when,
        "printed": when(desk.clock()),
    }
    return aiohttp_jinja2.render_template("transcript.html", request, context)


def add_routes(console: web.Application) -> None:
    console.router.add_get("/transcript/{conversation_id}", transcript_page)
