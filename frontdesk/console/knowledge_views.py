"""/console/knowledge: the bot's answers, edited, tried and published by leads and admins.

Every answer by area with its text in English, Russian and Spanish side by side, its
"Did you mean…?" question and its examples per language; edit, add, retire; try the draft;
publish (validation first, training in the background with its progress on the page) and
roll back. Forms are POSTed with the CSRF token and answered with a redirect back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from frontdesk.console.keys import DESK
from frontdesk.console.labels import labels_of
from frontdesk.console.roles import lead_only
from frontdesk.console.views import _checked_form, _csrf
from frontdesk.errors import BadInput, BotUnavailable
from frontdesk.knowledge.answers import AREAS, LANGUAGES
from frontdesk.knowledge.project import understanding_key
from frontdesk.knowledge.tryout import TryResult
from frontdesk.knowledge.validate import LANGUAGE_NAMES, Problem, validate
from frontdesk.knowledge.web import KNOWLEDGE

PAGE = "/console/knowledge"
WHAT = "Only leads and admins can edit and publish the bot's answers."


def _when(at: float | str) -> str:
    try:
        return dt.datetime.fromtimestamp(float(at), dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return ""


async def knowledge_page(request: web.Request) -> web.Response:
    who = await lead_only(request, WHAT)
    kd = request.config_dict[KNOWLEDGE]
    knowledge = kd.knowledge
    desk = request.config_dict[DESK]
    live, live_answers = await knowledge.live_version()
    draft = await knowledge.draft()
    tried: Any = None
    try_text = request.query.get("try", "").strip()
    try_language = request.query.get("lang", "")
    if try_text:
        tried = await _try(request, who.name, try_text, try_language)
    problems: list[Problem] = validate(draft)  # shown while the draft has any
    context = {
        "title": "Knowledge · frontdesk",
        "who": who,
        "csrf_token": _csrf(who.session),
        "flash": who.session.pop("flash", ""),
        "problems": problems,
        "live": live,
        "live_answers": live_answers,
        "draft": draft,
        "areas": AREAS,
        "languages": LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "changes": await knowledge.changes(),
        "needs_training": understanding_key(draft) != live.understanding,
        "trial": await knowledge.trial(draft),
        "versions": list(reversed(await knowledge.store.versions())),
        "job": await knowledge.store.job(),
        "tried": tried,
        "try_text": try_text,
        "try_language": try_language if try_language in LANGUAGES else "",
        "when": _when,
        "labels": labels_of(desk.flows, desk.templates.default_language),
    }
    return aiohttp_jinja2.render_template("knowledge.html", request, context)


async def _try(request: web.Request, by: str, text: str, language: str) -> TryResult | str:
    """A try of the draft, or what stands in its way. A draft whose model is trained but not
    loaded in this gateway process (another process trained it, or this one restarted) has it
    loaded here in the background, with its progress on the page."""
    kd = request.config_dict[KNOWLEDGE]
    try:
        tried = await kd.knowledge.try_draft(text, language)
    except (BadInput, BotUnavailable) as exc:
        return f"Could not try it: {exc}"
    if isinstance(tried, TryResult):
        return tried
    if not tried.trained:
        return tried.message
    job = await kd.knowledge.store.job()
    if job.get("state") == "failed" and job.get("kind") == "train":
        # Not again by itself (the page reloads after every job: it would loop).
        return "The draft could not be loaded for trying (see above); press the button to retry."
    if job.get("state") != "running":
        try:
            await kd.publisher.train_draft(by)
        except BadInput as exc:
            return f"Could not load the draft's model yet: {exc.message}."
    return tried.message


async def job_status(request: web.Request) -> web.Response:
    await lead_only(request, WHAT)
    job = await request.config_dict[KNOWLEDGE].knowledge.store.job()
    return web.json_response(job)


def _per_language(form: Any, prefix: str) -> dict[str, str]:
    return {lang: str(form[f"{prefix}_{lang}"]) for lang in LANGUAGES if f"{prefix}_{lang}" in form}


async def action(request: web.Request) -> web.Response:
    who = await lead_only(request, WHAT, back=PAGE)
    session, form = await _checked_form(request)
    kd = request.config_dict[KNOWLEDGE]
    knowledge, publisher = kd.knowledge, kd.publisher
    name = request.match_info["action"]
    answer_id = str(form.get("answer_id", ""))
    anchor = ""
    try:
        if name == "edit":
            texts, question = _per_language(form, "text"), _per_language(form, "question")
            await knowledge.edit(answer_id, texts, question, _per_language(form, "examples"))
            message, anchor = f"Saved {answer_id} in the draft.", answer_id
        elif name == "add":
            texts, question = _per_language(form, "text"), _per_language(form, "question")
            added = await knowledge.add(
                str(form.get("area", "")),
                str(form.get("name", "")),
                texts,
                question,
                _per_language(form, "examples"),
            )
            message, anchor = f"Added {added.id} to the draft.", added.id
        elif name in ("retire", "restore"):
            await knowledge.retire(answer_id, name == "retire")
            verb = "Retired" if name == "retire" else "Restored"
            message, anchor = f"{verb} {answer_id} in the draft.", answer_id
        elif name == "discard":
            await knowledge.discard()
            message = "The draft is the live version again."
        elif name == "validate":
            found = validate(await knowledge.draft())
            message = "The draft has problems to fix." if found else "The draft is ready."
        elif name == "train":
            message = await publisher.train_draft(who.name)
        elif name == "publish":
            result = await publisher.publish(who.name, str(form.get("note", "")).strip())
            if isinstance(result, list):
                message = "Not published: fix the problems below first."
            else:
                message = result
        elif name == "rollback":
            message = await publisher.rollback(who.name)
        elif name == "make-live":
            message = await publisher.make_live(int(str(form.get("version", "0")) or 0), who.name)
        else:
            raise web.HTTPNotFound(text=f"no action {name!r}")
    except BadInput as exc:
        message = f"Nothing done: {exc.message}."
    except ValueError:
        message = "Nothing done: that is not a version number."
    session["flash"] = message
    raise web.HTTPSeeOther(PAGE + (f"#answer-{anchor.replace('/', '-')}" if anchor else ""))


def add_routes(console: web.Application) -> None:
    console.router.add_get("/knowledge", knowledge_page)
    console.router.add_get("/knowledge/job", job_status)
    console.router.add_post("/knowledge/{action}", action)
