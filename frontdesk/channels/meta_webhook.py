"""Meta's webhooks (Messenger, WhatsApp): the subscription check and the body's signature.

Meta checks a webhook once with `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
(answer the challenge when the token is ours), then signs every call's raw body with the app
secret in `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`. Both are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from aiohttp import web

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"


class MetaWebhook:
    def __init__(self, platform: str, app_secret: str, verify_token: str) -> None:
        self.platform = platform  # "Messenger", "WhatsApp": how the log names it
        self._app_secret = app_secret.encode()
        self._verify_token = verify_token.encode()

    def verify(self, request: web.Request) -> web.Response:
        """GET /channels/<platform>: the subscription check."""
        mode = request.query.get("hub.mode", "")
        token = request.query.get("hub.verify_token", "").encode()
        challenge = request.query.get("hub.challenge", "")
        if mode != "subscribe" or not challenge:
            log.warning("refused a %s verification request: hub.mode=%r", self.platform, mode[:20])
            raise web.HTTPForbidden(text="expected hub.mode=subscribe and a hub.challenge")
        if not hmac.compare_digest(token, self._verify_token):
            log.warning("refused a %s verification request: wrong hub.verify_token", self.platform)
            raise web.HTTPForbidden(text="verify token does not match")
        return web.Response(text=challenge)

    def authenticate(self, request: web.Request, body: bytes) -> None:
        """A body not signed with our app secret is refused (403)."""
        given = request.headers.get(SIGNATURE_HEADER, "").encode()
        digest = hmac.new(self._app_secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, f"sha256={digest}".encode()):
            why = "a wrong signature" if given else f"no {SIGNATURE_HEADER} header"
            log.warning("refused a %s webhook call from %s: %s", self.platform, request.remote, why)
            raise web.HTTPForbidden(text="signature does not match")
