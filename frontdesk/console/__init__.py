"""The agent console: a sub-app at /console with sessions, jinja2 templates and static files."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from frontdesk.console import views

HERE = Path(__file__).resolve().parent


# The console's pages load only their own scripts and styles, talk only to this origin, and
# may not be framed by another site (clickjacking).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects (login) carry the headers too
        exc.headers.update(_HEADERS)
        raise
    response.headers.update(_HEADERS)
    return response


_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def make_console(secret: bytes, secure_cookie: bool) -> web.Application:
    console = web.Application(middlewares=[security_headers])
    storage = EncryptedCookieStorage(
        secret,
        cookie_name="frontdesk_console",
        max_age=12 * 3600,
        httponly=True,
        secure=secure_cookie,
        samesite="Lax",
        path="/console",
    )
    setup_session(console, storage)
    aiohttp_jinja2.setup(
        console,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    console.router.add_get("/", views.console)
    console.router.add_get("/login", views.login_form)
    console.router.add_post("/login", views.login)
    console.router.add_post("/logout", views.logout)
    console.router.add_static("/static", HERE / "static", append_version=True)
    return console
