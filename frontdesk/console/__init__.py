"""The agent console: a sub-app at /console with sessions, jinja2 templates and static files.

Every response the sub-app sends (pages, redirects, static files, 404s, errors answered by the
parent app) carries the security headers; the session cookie is Secure when PUBLIC_URL is https
or the request came over HTTPS (directly, or per X-Forwarded-Proto from a trusted proxy)."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from frontdesk.config import IPNetwork
from frontdesk.console import (
    files_views,
    knowledge_views,
    reports_views,
    search_views,
    transcript_views,
    views,
)
from frontdesk.console.proxies import TrustedProxies, forwarded_middleware

HERE = Path(__file__).resolve().parent


# The console's pages load only their own scripts and styles, talk only to this origin, and
# may not be framed by another site (clickjacking).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


async def security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """on_response_prepare, not a middleware: it also reaches the 500/503 answers the parent
    app's error middleware makes, and aiohttp's own 404s and 405s."""
    response.headers.update(_HEADERS)


def make_console(
    secret: bytes, secure_cookie: bool, trusted_proxies: tuple[IPNetwork, ...] = ()
) -> web.Application:
    """secure_cookie: always Secure (PUBLIC_URL is https); trusted_proxies: whose
    X-Forwarded-For/-Proto to believe (for the login throttle and Secure cookies)."""
    # The session middleware (added by setup_session) runs inside this one, so it sees the
    # client's address and scheme, and its cookie is marked Secure on the way out.
    console = web.Application(middlewares=[forwarded_middleware(TrustedProxies(trusted_proxies))])
    console.on_response_prepare.append(security_headers)
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
    reports_views.add_routes(console)  # /reports, /reports.csv, /unanswered, /vendor/…
    files_views.add_routes(console)  # /upload: an agent's photo or file for a reply
    search_views.add_routes(console)  # /search, /search/conversation/<id>
    transcript_views.add_routes(console)  # /transcript/<id>: printable, PDF-friendly
    knowledge_views.add_routes(console)  # /knowledge: the bot's answers (leads and admins)
    console.router.add_static("/static", HERE / "static", append_version=True)
    return console
