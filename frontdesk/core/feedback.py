"""One-click satisfaction links for answers sent by e-mail: signed with the app secret, single
use (the token's key in the store is consumed on the first click)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from frontdesk.store.base import MailOutbox

TOKEN_TTL = 60 * 86400  # a link works for 60 days
USED_TTL = 60 * 86400  # a used link says "already used" (not "unknown") for as long
SCORES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Ticket:
    """What a link stands for: the case it rates and the customer's language."""

    case_id: str
    language: str


class FeedbackLinks:
    def __init__(self, mail: MailOutbox, secret: bytes, base_url: str) -> None:
        self.mail = mail
        self.secret = secret
        self.base_url = base_url.rstrip("/")

    def _signature(self, nonce: str) -> str:
        digest = hmac.new(self.secret, b"feedback:" + nonce.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")

    def nonce_of(self, token: str) -> str | None:
        """The token's nonce if its signature is ours (compared in constant time)."""
        nonce, _, signature = token.partition(".")
        if not nonce or not signature or len(token) > 200:
            return None
        if not hmac.compare_digest(signature.encode(), self._signature(nonce).encode()):
            return None
        return nonce

    def url(self, token: str, score: int | None = None) -> str:
        link = f"{self.base_url}/feedback/{token}"
        return link if score is None else f"{link}?score={score}"

    async def issue(self, case_id: str, language: str) -> str:
        """A new single-use token rating the case."""
        nonce = secrets.token_urlsafe(16)
        ticket = json.dumps({"case_id": case_id, "language": language})
        await self.mail.issue_token(nonce, ticket, TOKEN_TTL)
        return f"{nonce}.{self._signature(nonce)}"

    async def peek(self, token: str) -> tuple[str, Ticket | None]:
        """("open", ticket) for a link not used yet, ("used", ticket) or ("invalid", None)."""
        nonce = self.nonce_of(token)
        if nonce is None:
            return "invalid", None
        value = await self.mail.peek_token(nonce)
        if value is not None:
            return "open", _ticket(value)
        used = await self.mail.used_token(nonce)
        return ("used", _ticket(used)) if used is not None else ("invalid", None)

    async def redeem(self, token: str) -> tuple[str, Ticket | None]:
        """("ok", ticket) the first time; then ("used", ticket); ("invalid", None) for a link
        that is not ours, or expired."""
        nonce = self.nonce_of(token)
        if nonce is None:
            return "invalid", None
        value = await self.mail.redeem_token(nonce, USED_TTL)
        if value is not None:
            return "ok", _ticket(value)
        used = await self.mail.used_token(nonce)
        return ("used", _ticket(used)) if used is not None else ("invalid", None)


def _ticket(value: str) -> Ticket | None:
    try:
        raw = json.loads(value)
        return Ticket(str(raw["case_id"]), str(raw.get("language") or ""))
    except (ValueError, KeyError, TypeError):
        return None
