"""The widget channel's protections, built once from the settings: who may open which
conversation (frontdesk.channels.resume) and how fast a client may write, and open or resume
conversations (frontdesk.channels.ratelimit)."""

from __future__ import annotations

from dataclasses import dataclass

from frontdesk.channels.ratelimit import SESSION_REQUESTS, Limits
from frontdesk.channels.resume import SessionAccess
from frontdesk.config import Settings


@dataclass(frozen=True)
class Safeguards:
    access: SessionAccess
    limits: Limits  # customer messages
    session_limits: Limits = SESSION_REQUESTS  # session_request, per connection

    @classmethod
    def from_settings(cls, secret: bytes, settings: Settings) -> Safeguards:
        """`secret`: the app secret (SECRET_KEY or DATA_DIR/secret.key), which signs the
        widget's resume tokens; every gateway process of one deployment needs the same."""
        limits = Limits(
            per_second=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
            max_pending_turns=settings.max_pending_turns,
        )
        # RATE_LIMIT_PER_SECOND=0 turns every widget rate limit off, this one too.
        sessions = SESSION_REQUESTS if limits.per_second > 0 else Limits(0, max_pending_turns=0)
        return cls(SessionAccess(secret, settings.identity_secret), limits, sessions)
