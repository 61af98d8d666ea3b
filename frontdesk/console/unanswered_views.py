"""/console/unanswered: what the bot could not answer, grouped by similar wording, and the
lead's actions on it (attach to an FAQ answer, out of scope, missing answer), plus the pending
training examples to accept (written to bot/data/learned.yml) or reject. Leads and admins only
(console/roles.py). Every action is a POSTed form with the CSRF token, answered with a redirect
back to the page (a message says what was done)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from frontdesk.console.keys import DESK, REPORTS
from frontdesk.console.labels import labels_of
from frontdesk.console.roles import lead_only
from frontdesk.console.views import _checked_form, _csrf
from frontdesk.errors import BadInput
from frontdesk.knowledge.web import KNOWLEDGE
from frontdesk.reports.unanswered import WHY

PAGE = "/console/unanswered"
WHAT = "Only leads and admins can review what the bot could not answer."


def _when(at: str) -> str:
    try:
        return dt.datetime.fromtimestamp(float(at), dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return ""


async def unanswered_page(request: web.Request) -> web.Response:
    who = await lead_only(request, WHAT)
    reports = request.config_dict[REPORTS]
    desk = request.config_dict[DESK]
    await reports.settled()  # what the bot just declined is on the list
    learned = reports.training.learned()
    context = {
        "title": "Could not answer · frontdesk",
        "who": who,
        "csrf_token": _csrf(who.session),
        "flash": who.session.pop("flash", ""),
        "groups": await reports.unanswered.open_groups(),
        "pending": await reports.training.pending(),
        "missing": await reports.unanswered.missing(),
        "answers": reports.training.answers(),
        "learned_count": sum(len(v) for v in learned.values()),
        "learned_file": str(reports.training.path),
        "why": WHY,
        "taught": await _taught(request),
        "when": _when,
        "labels": labels_of(desk.flows, desk.templates.default_language),
    }
    return aiohttp_jinja2.render_template("unanswered.html", request, context)


async def _taught(request: web.Request) -> list[dict[str, Any]]:
    """Messages accepted here, newest first, with what the live bot answers them since the
    publish that taught them (checked right after it)."""
    learned = await request.config_dict[KNOWLEDGE].knowledge.store.learned()
    return sorted(learned.values(), key=lambda r: float(r.get("at") or 0), reverse=True)[:50]


def _answer(request: web.Request, answer_id: str) -> str:
    desk = request.config_dict[DESK]
    return labels_of(desk.flows, desk.templates.default_language).answer(answer_id)


async def _act(request: web.Request) -> tuple[Any, Any, str]:
    who = await lead_only(request, WHAT, back=PAGE)
    session, form = await _checked_form(request)
    return session, form, who.name


def _back(session: Any, message: str) -> web.HTTPSeeOther:
    session["flash"] = message
    return web.HTTPSeeOther(PAGE)


async def item_action(request: web.Request) -> web.Response:
    session, form, by = await _act(request)
    reports = request.config_dict[REPORTS]
    action = request.match_info["action"]
    item_id = str(form.get("item_id", ""))
    try:
        if action == "attach":
            answer_id = str(form.get("answer_id", ""))
            await reports.unanswered.attach(item_id, answer_id, str(form.get("text", "")), by)
            message = f"Added as a pending example for “{_answer(request, answer_id)}”."
        elif action == "scope":
            await reports.unanswered.out_of_scope(item_id, by)
            message = "Marked out of scope."
        elif action == "missing":
            await reports.unanswered.note_missing(item_id, str(form.get("note", "")), by)
            message = "Noted as a missing answer."
        elif action == "missing-done":
            await reports.unanswered.missing_done(item_id, by)
            message = "Removed from the missing answers."
        else:
            raise web.HTTPNotFound(text=f"no action {action!r}")
    except BadInput as exc:
        message = f"Nothing done: {exc.message}."
    raise _back(session, message)


async def training_action(request: web.Request) -> web.Response:
    session, form, by = await _act(request)
    reports = request.config_dict[REPORTS]
    decision = request.match_info["decision"]
    example_id = str(form.get("example_id", ""))
    try:
        if decision == "accept":
            example = await reports.training.accept(example_id, by)
            # The loop: the message becomes an example of its answer in the bot's draft
            # (/console/knowledge); the next publish teaches it to the bot.
            learned = await request.config_dict[KNOWLEDGE].knowledge.learn(
                example_id, example["text"], example["answer_id"], example["language"], by
            )
            message = (
                f"Written to learned.yml for “{_answer(request, example['answer_id'])}”; "
                + (
                    "added to the draft of the bot's answers: publish it on Answers."
                    if learned
                    else "`python server.py train` teaches it to the bot."
                )
                if example["status"] == "accepted"
                else "That example is in learned.yml already."
            )
        elif decision == "reject":
            example = await reports.training.reject(example_id, by)
            await reports.unanswered.reopen(example.get("item_id", ""))
            message = "Rejected; the message is back in the list."
        else:
            raise web.HTTPNotFound(text=f"no decision {decision!r}")
    except BadInput as exc:
        message = f"Nothing done: {exc.message}."
    raise _back(session, message)


def add_routes(console: web.Application) -> None:
    console.router.add_get("/unanswered", unanswered_page)
    console.router.add_post("/unanswered/{action}", item_action)
    console.router.add_post("/training/{decision}", training_action)
