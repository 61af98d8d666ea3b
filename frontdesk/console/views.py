"""Console pages: login, logout and the console itself (jinja2 templates, CSRF on every form)."""

from __future__ import annotations

import math
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from frontdesk.console.auth import check_login, new_csrf_token, same_token, socket_token
from frontdesk.console.keys import DESK, SECRET, THROTTLE
from frontdesk.console.roles import LEADS, role_of
from frontdesk.console.throttle import retry_text

TITLE = "frontdesk console"


def _csrf(session: Session) -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = new_csrf_token()
        session["csrf"] = token
    return token


async def _checked_form(request: web.Request) -> tuple[Session, Any]:
    """The posted form, after the CSRF check (403 without the session's token)."""
    session = await get_session(request)
    form = await request.post()
    if not same_token(session.get("csrf"), form.get("csrf_token")):
        raise web.HTTPForbidden(
            text="This form has expired or did not come from the console. "
            "Reload the page and try again."
        )
    return session, form


def _safe_next(value: object) -> str:
    if isinstance(value, str) and value.startswith("/console") and "//" not in value:
        return value
    return "/console/"


async def login_form(request: web.Request) -> web.Response:
    session = await get_session(request)
    context = {
        "title": TITLE,
        "error": None,
        "csrf_token": _csrf(session),
        "next": _safe_next(request.query.get("next")),
    }
    return aiohttp_jinja2.render_template("login.html", request, context)


def _refused(
    request: web.Request, session: Session, form: Any, error: str, status: int
) -> web.Response:
    context = {
        "title": TITLE,
        "error": error,
        "username": str(form.get("username", "")).strip(),
        "csrf_token": _csrf(session),
        "next": _safe_next(form.get("next")),
    }
    return aiohttp_jinja2.render_template("login.html", request, context, status=status)


async def login(request: web.Request) -> web.Response:
    """Throttled per name and per client address (console/throttle.py): a refused attempt
    answers 429 before any lookup or password hashing."""
    session, form = await _checked_form(request)
    name = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    attempt = await request.config_dict[THROTTLE].begin(name, request.remote)
    if attempt.refused:
        error = f"Too many failed attempts; {retry_text(attempt.wait)}."
        response = _refused(request, session, form, error, 429)
        response.headers["Retry-After"] = str(math.ceil(attempt.wait))
        return response
    desk = request.config_dict[DESK]
    account = await desk.agents.get(name) if name else {}
    if not await check_login(account.get("password_hash"), password):
        return _refused(request, session, form, "Wrong name or password.", 401)
    await request.config_dict[THROTTLE].succeeded(attempt)
    session = await new_session(request)  # a fresh session id after login
    session["agent"] = name
    session["csrf"] = new_csrf_token()
    raise web.HTTPFound(_safe_next(form.get("next")))


async def logout(request: web.Request) -> web.Response:
    session, _ = await _checked_form(request)
    session.invalidate()
    raise web.HTTPFound("/console/login")


async def console(request: web.Request) -> web.Response:
    session = await get_session(request)
    name = session.get("agent")
    desk = request.config_dict[DESK]
    agent = await desk.agent(name) if isinstance(name, str) and name else None
    if agent is None or not await desk.agents.get(agent["name"]):
        raise web.HTTPFound("/console/login?next=/console/")
    context = {
        "title": TITLE,
        "agent": agent,
        "csrf_token": _csrf(session),
        "socket_token": socket_token(request.config_dict[SECRET], agent["name"]),
        # The other pages, as the pages' own menu has them (leads see the bot's pages too).
        "lead": role_of(await desk.agents.get(agent["name"])) in LEADS,
    }
    return aiohttp_jinja2.render_template("console.html", request, context)
