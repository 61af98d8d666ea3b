"""The background sender: takes due answers from the mail outbox (Redis), sends each through
SMTP with aiosmtplib, and reports every try to the offline inbox (which tells the console).

A try that fails for a reason that may pass (the server is down or refuses for now: connection
errors, timeouts, 4xx answers) is retried with back-off — MAIL_RETRY_FIRST seconds, doubling up
to MAIL_RETRY_MAX, for as long as it takes. A 5xx answer (the address does not exist, the
server refuses our credentials) would fail the same way again: the answer is held as failed
until an agent retries it from the console. Nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from frontdesk.core.events import EventBus, MailStatusChanged
from frontdesk.core.inbox import QUEUED, OfflineInbox
from frontdesk.errors import StoreUnavailable
from frontdesk.mail.settings import MailIdentity, SmtpConfig
from frontdesk.store.base import MailOutbox

log = logging.getLogger(__name__)

TRANSCRIPT = "transcript"  # an outbox entry's kind: a transcript (core/transcript_mail.py)

POLL_SECONDS = 5.0  # look for due answers at least this often (retries, other processes)
BATCH = 10


def build_message(content: Mapping[str, str], identity: MailIdentity) -> EmailMessage:
    """The e-mail of an outbox entry; its Message-ID is the same on every try."""
    message = EmailMessage()
    message["From"] = identity.sender
    message["To"] = content["to"]
    if identity.reply_to:
        message["Reply-To"] = identity.reply_to
    message["Subject"] = content["subject"]
    message["Date"] = formatdate(localtime=True)
    local = content.get("message_id") or f"{content['case_id']}.answer"
    message["Message-ID"] = f"<{local}@{identity.domain}>"
    if content.get("language"):
        message["Content-Language"] = content["language"]
    message.set_content(content["text"])
    if content.get("html"):
        message.add_alternative(content["html"], subtype="html")
    return message


async def deliver(config: SmtpConfig, message: EmailMessage, envelope_from: str) -> None:
    await aiosmtplib.send(
        message,
        sender=envelope_from,
        hostname=config.hostname,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.use_tls,
        start_tls=config.start_tls,
        validate_certs=config.validate_certs,
        timeout=config.timeout,
    )


def permanent(exc: Exception) -> bool:
    """Whether the SMTP server refused for good (a 5xx answer): trying again would not help."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return any(500 <= r.code < 600 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 500 <= exc.code < 600


def describe(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())[:300]


class MailSender:
    def __init__(
        self,
        outbox: MailOutbox,
        inbox: OfflineInbox,
        smtp: SmtpConfig,
        identity: MailIdentity,
        retry_first: float,
        retry_max: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.inbox = inbox
        self.smtp = smtp
        self.identity = identity
        self.retry_first = retry_first
        self.retry_max = retry_max
        self.clock = clock
        self.lease = smtp.timeout * 3 + 30  # no other sender takes an answer being sent
        self._wake = asyncio.Event()

    def subscribe(self, bus: EventBus) -> None:
        """A new (or retried) answer is sent at once rather than at the next poll."""

        async def queued(event: MailStatusChanged) -> None:
            if event.state == QUEUED:
                self._wake.set()

        bus.subscribe(MailStatusChanged, queued)

    def backoff(self, attempts: int) -> float:
        return float(min(self.retry_max, self.retry_first * 2 ** max(0, attempts - 1)))

    async def run(self) -> None:
        while True:
            self._wake.clear()
            pause = POLL_SECONDS
            try:
                due = await self.outbox.take_due(self.clock(), self.lease, BATCH)
                for case_id in due:
                    await self.send(case_id)
                if due:
                    continue
                next_at = await self.outbox.next_due()
                if next_at is not None:
                    pause = min(POLL_SECONDS, max(0.02, next_at - self.clock()))
            except StoreUnavailable as exc:
                log.warning("mail outbox: %s", exc)
            except Exception:
                log.exception("mail sender failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)

    async def send(self, case_id: str) -> None:
        content = await self.outbox.get(case_id)
        if not content.get("to"):
            await self.outbox.delivered(case_id)  # nothing left to send (erased meanwhile)
            return
        attempts = int(content.get("attempts") or 0) + 1
        if content.get("kind") == TRANSCRIPT:  # no case and no agent to report to
            await self._send_transcript(case_id, content, attempts)
            return
        try:
            await deliver(self.smtp, build_message(content, self.identity), self.identity.address)
        except Exception as exc:
            error = describe(exc)
            fields = {"attempts": str(attempts), "last_error": error}
            if permanent(exc):
                log.error("answer to case %s refused for good: %s", case_id, error)
                await self.outbox.hold(case_id, fields)
                await self.inbox.mail_failed(case_id, error, attempts, None)
                return
            next_at = self.clock() + self.backoff(attempts)
            log.warning("answer to case %s not sent (try %d): %s", case_id, attempts, error)
            await self.outbox.retry_at(case_id, next_at, fields)
            await self.inbox.mail_failed(case_id, error, attempts, next_at)
            return
        await self.outbox.delivered(case_id)
        await self.inbox.mail_sent(case_id, attempts)
        log.info("answer to case %s sent to the SMTP server (try %d)", case_id, attempts)

    async def _send_transcript(
        self, mail_id: str, content: Mapping[str, str], attempts: int
    ) -> None:
        """A transcript the customer asked for (frontdesk.core.transcript_mail): retried like
        an answer while the failure may pass; refused for good (a mistyped address), it is
        dropped with an error in the log, since no agent waits on it."""
        try:
            await deliver(self.smtp, build_message(content, self.identity), self.identity.address)
        except Exception as exc:
            error = describe(exc)
            if permanent(exc):
                log.error("transcript %s refused for good, dropped: %s", mail_id, error)
                await self.outbox.delivered(mail_id)
                return
            next_at = self.clock() + self.backoff(attempts)
            log.warning("transcript %s not sent (try %d): %s", mail_id, attempts, error)
            fields = {"attempts": str(attempts), "last_error": error}
            await self.outbox.retry_at(mail_id, next_at, fields)
            return
        await self.outbox.delivered(mail_id)
        log.info("transcript %s sent to the SMTP server (try %d)", mail_id, attempts)
