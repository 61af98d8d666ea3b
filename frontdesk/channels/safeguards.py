"""The widget channel's protections, built once from the settings: who may open which
conversation (frontdesk.channels.resume) and how fast a client may write, and open or resume
conversations, per connection, per conversation and per client address
(frontdesk.channels.ratelimit)."""

from __future__ import annotations

from dataclasses import dataclass, field

from frontdesk.channels.ratelimit import (
    NO_ADDRESS_LIMITS,
    SESSION_REQUESTS,
    AddressLimiter,
    AddressLimits,
    Limits,
    Rate,
)
from frontdesk.channels.resume import SessionAccess
from frontdesk.config import Settings


def address_limits(settings: Settings) -> AddressLimits:
    """ADDRESS_*; RATE_LIMIT_PER_SECOND=0 turns every widget limit off, these too."""
    if settings.rate_limit_per_second <= 0:
        return NO_ADDRESS_LIMITS
    return AddressLimits(
        max_connections=settings.address_max_connections,
        connections=Rate(
            settings.address_connections_per_second, settings.address_connection_burst
        ),
        conversations=Rate(
            settings.address_conversations_per_second, settings.address_conversation_burst
        ),
        messages=Rate(settings.address_messages_per_second, settings.address_message_burst),
    )


@dataclass(frozen=True)
class Safeguards:
    access: SessionAccess
    limits: Limits  # customer messages
    session_limits: Limits = SESSION_REQUESTS  # session_request, per connection
    # The process's per-address counts, shared with the connection guard (channels/guard.py).
    addresses: AddressLimiter = field(default_factory=lambda: AddressLimiter(NO_ADDRESS_LIMITS))

    @classmethod
    def from_settings(
        cls, secret: bytes, settings: Settings, addresses: AddressLimiter | None = None
    ) -> Safeguards:
        """`secret`: the app secret (SECRET_KEY or DATA_DIR/secret.key), which signs the
        widget's resume tokens; every gateway process of one deployment needs the same.
        `addresses`: the process's per-address counts (made here when not given)."""
        limits = Limits(
            per_second=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
            max_pending_turns=settings.max_pending_turns,
        )
        # RATE_LIMIT_PER_SECOND=0 turns every widget rate limit off, this one too.
        sessions = SESSION_REQUESTS if limits.per_second > 0 else Limits(0, max_pending_turns=0)
        if addresses is None:
            addresses = AddressLimiter(address_limits(settings))
        return cls(SessionAccess(secret, settings.identity_secret), limits, sessions, addresses)
