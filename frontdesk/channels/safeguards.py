"""The widget channel's protections, built once from the settings: who may open which
conversation (frontdesk.channels.resume) and how fast a client may write
(frontdesk.channels.ratelimit)."""

from __future__ import annotations

from dataclasses import dataclass

from frontdesk.channels.ratelimit import Limits
from frontdesk.channels.resume import SessionAccess
from frontdesk.config import Settings


@dataclass(frozen=True)
class Safeguards:
    access: SessionAccess
    limits: Limits

    @classmethod
    def from_settings(cls, secret: bytes, settings: Settings) -> Safeguards:
        """`secret`: the app secret (SECRET_KEY or DATA_DIR/secret.key), which signs the
        widget's resume tokens; every gateway process of one deployment needs the same."""
        limits = Limits(
            per_second=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
            max_pending_turns=settings.max_pending_turns,
        )
        return cls(SessionAccess(secret, settings.identity_secret), limits)
