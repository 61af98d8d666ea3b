"""Who may open which widget conversation: resume tokens, ids the server issued, verified shoppers.

A conversation belongs to whoever opened it; knowing its session id is not enough.

- The widget channel issues every id it works with (128 random bits, 32 hex characters, as Rasa's
  own ids look), or derives it from a verified shopper (`user:<32 hex>`). An id a client proposes
  that the server did not issue, or may not give to this client (another channel's
  `telegram:<chat_id>`, someone else's conversation), is replaced by a new id, with the same
  answer whether or not that conversation exists.
- frontdesk's widget (`frontdesk: 1` in `session_request`) gets, right after `session_confirm`,
  `session_token {session_id, token}`: HMAC-SHA256 of the id under the app secret (SECRET_KEY).
  It resumes a conversation, and reads its history, by sending `resume_token` with the id.
- Stock Rasa clients (rasa-webchat) know no token. `session_confirm` stays what Rasa sends (the
  session id string); on a reload they send back the id the server gave them, and may continue
  only a conversation the server issued to a token-less client (the conversation's
  `widget_access` field is `plain`), never one opened with a token. They get no history.
- A shop may vouch for a logged-in shopper: `customData: {user_id, user_hash}` with
  `user_hash = hex HMAC-SHA256(IDENTITY_SECRET, user_id)` (as Chatwoot's identifier_hash). When it
  verifies, the conversation is the shopper's own (`user:` + an id derived from user_id), the
  same on every device, and needs that proof every time (a token alone does not resume it: after
  a log-out on a shared computer the next person gets a new conversation). A bad hash is logged
  and the client is treated as anonymous.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ISSUED = re.compile(r"^[0-9a-f]{32}$")  # an id the widget channel issued at random
SHOPPER = re.compile(r"^user:[0-9a-f]{32}$")  # a verified shopper's conversation
ACCESS_FIELD = "widget_access"  # on the conversation: "plain" when issued to a token-less client
PLAIN = "plain"
TOKEN = "token"
_TOKEN_CONTEXT = b"frontdesk widget session v1\x00"
_SHOPPER_CONTEXT = b"frontdesk shopper v1\x00"
MAX_USER_ID = 256


def new_session_id() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Grant:
    """The conversation a session_request gets."""

    session_id: str
    resumed: bool  # the client's own conversation (not a new one)
    token: str  # "" for a client that gets no token (a stock client)
    user_id: str = ""  # the verified shopper's id


class SessionAccess:
    """Signs and checks resume tokens and shoppers' identity proofs."""

    def __init__(self, secret: bytes, identity_secret: str = "") -> None:
        if len(secret) < 16:
            raise ValueError("the resume-token secret must be at least 16 bytes")
        self._secret = secret
        self._identity_secret = identity_secret.encode()
        self._told_unset = False

    def token(self, session_id: str) -> str:
        digest = hmac.new(self._secret, _TOKEN_CONTEXT + session_id.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()

    def token_valid(self, session_id: str, token: Any) -> bool:
        if not isinstance(token, str) or not token or len(token) > 128 or not token.isascii():
            return False  # a token is url-safe base64 (text that could not be one is not)
        return hmac.compare_digest(self.token(session_id).encode(), token.encode())

    def shopper(self, custom: Mapping[str, Any]) -> str:
        """The verified shopper's user_id, or "" (no claim, or a claim that does not verify)."""
        user_id, user_hash = custom.get("user_id"), custom.get("user_hash")
        if user_id is None and user_hash is None:
            return ""
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)
        if not self._identity_secret:
            if not self._told_unset:  # once: a shop that sends ids but set no secret
                self._told_unset = True
                log.warning("widget: customData.user_id is ignored: IDENTITY_SECRET is not set")
            return ""
        if (
            not isinstance(user_id, str)
            or not 0 < len(user_id) <= MAX_USER_ID
            or not isinstance(user_hash, str)
        ):
            log.warning("widget: identity claim ignored: user_id and user_hash must be text")
            return ""
        expected = hmac.new(self._identity_secret, user_id.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), user_hash.strip().lower().encode()):
            log.warning("widget: identity claim ignored: user_hash does not match user_id")
            return ""
        return user_id

    def shopper_session(self, user_id: str) -> str:
        """The conversation id of a verified shopper (the same on every device; the user id
        itself is not readable from it)."""
        digest = hmac.new(self._secret, _SHOPPER_CONTEXT + user_id.encode(), hashlib.sha256)
        return "user:" + digest.hexdigest()[:32]

    def decide(
        self,
        proposed: str | None,
        token: Any,
        extras: bool,
        custom: Mapping[str, Any],
        issued_plain: bool,
    ) -> Grant:
        """The conversation for a session_request. `issued_plain`: the proposed id is a
        conversation the server issued to a token-less client (looked up by the caller)."""
        user_id = self.shopper(custom)
        if user_id:
            session_id = self.shopper_session(user_id)
            grant_token = self.token(session_id) if extras else ""
            return Grant(session_id, proposed == session_id, grant_token, user_id)
        if proposed and ISSUED.match(proposed):
            if extras and self.token_valid(proposed, token):
                return Grant(proposed, True, self.token(proposed))
            if not extras and issued_plain:
                return Grant(proposed, True, "")
        session_id = new_session_id()
        return Grant(session_id, False, self.token(session_id) if extras else "")


def may_be_plain(proposed: str | None, extras: bool) -> bool:
    """Whether deciding needs to know if `proposed` was issued to a token-less client (only
    for a stock client proposing an id of the kind the server issues)."""
    return not extras and bool(proposed) and ISSUED.match(proposed or "") is not None
