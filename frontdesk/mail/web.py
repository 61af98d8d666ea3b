"""The e-mail parts of the aiohttp app: the sender's cleanup_ctx and the satisfaction page.

make_app adds `mail_ctx(settings)` after the core is built (router_ctx sets INBOX and
MAIL_STORE) and routes GET /feedback/{token} to `feedback_page`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import jinja2
from aiohttp import web

from frontdesk.config import Settings
from frontdesk.core.inbox import FeedbackPage, OfflineInbox
from frontdesk.core.transcript_mail import TranscriptMail
from frontdesk.keys import WIDGET_CHANNEL
from frontdesk.mail.sender import MailSender
from frontdesk.mail.settings import mail_identity, parse_smtp_url
from frontdesk.store.mail import MailStore

log = logging.getLogger(__name__)

INBOX = web.AppKey("offline_inbox", OfflineInbox)
MAIL_STORE = web.AppKey("mail_store", MailStore)
PAGES = web.AppKey("feedback_pages", jinja2.Environment)
SENDER = web.AppKey("mail_sender", MailSender)

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATUS = {"thanks": 200, "ask": 200, "used": 410, "invalid": 404}
TEXT_KEY = {
    "thanks": "feedback_thanks",
    "ask": "feedback_ask",
    "used": "feedback_used",
    "invalid": "feedback_invalid",
}
HEADERS = {
    # The token is in the URL: never sent on as a referrer, never cached or indexed.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}


def mail_ctx(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """The satisfaction page's templates and, with SMTP_URL set, the background sender."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        app[PAGES] = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(default=True),
        )
        if not settings.smtp_url:
            log.info("SMTP_URL is not set: left messages cannot be answered by e-mail")
            yield
            return
        sender = MailSender(
            app[MAIL_STORE],
            app[INBOX],
            parse_smtp_url(settings.smtp_url),
            mail_identity(settings.mail_from, settings.mail_reply_to),
            settings.mail_retry_first,
            settings.mail_retry_max,
        )
        sender.subscribe(app[INBOX].bus)
        app[SENDER] = sender
        offer_transcripts(app)
        task = asyncio.create_task(sender.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


def offer_transcripts(app: web.Application) -> None:
    """With mail going out, customers may ask for their transcript by e-mail once a person
    closed their widget conversation (frontdesk.core.transcript_mail): the widget channel takes
    their requests, and the agent's closing offers it."""
    inbox = app[INBOX]
    transcripts = TranscriptMail(
        inbox.conversations,
        inbox.cases,
        inbox.desk.store,
        inbox.templates,
        app[MAIL_STORE],
        inbox.zone,
    )
    app[WIDGET_CHANNEL].transcripts = transcripts
    inbox.desk.transcript_offer = transcripts.offer


async def feedback_page(request: web.Request) -> web.Response:
    """GET /feedback/<token>?score=1..5: the first click records the score (csat) on the case
    and thanks the customer in their language; later clicks only thank."""
    inbox = request.app[INBOX]
    raw = request.query.get("score", "")
    score = int(raw) if raw.isdigit() and len(raw) == 1 else None
    page: FeedbackPage = await inbox.feedback(request.match_info["token"], score)
    templates = inbox.templates
    language = page.language or templates.pick_language(request.headers.get("Accept-Language"))
    title = templates.render(language, "feedback_title") if page.status != "invalid" else ""
    text = templates.render(language, TEXT_KEY[page.status], score=page.score)
    if page.status == "ask":
        title, text = text, ""
    html = (
        request.app[PAGES]
        .get_template("feedback.html")
        .render(language=language, status=page.status, title=title, text=text, links=page.links)
    )
    return web.Response(
        text=html, content_type="text/html", status=STATUS[page.status], headers=HEADERS
    )
