"""What the widget channel accepts: checks on the shapes clients send."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from frontdesk.errors import BadInput

SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_CUSTOM_DATA = 4096
PRIVATE_CUSTOM_DATA = ("user_hash",)  # proof of identity: never passed on to the bot


def custom_data(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput("bad_request", "customData must be an object")
    try:  # only JSON: no bytes (binary attachments), no NaN, no lone surrogates
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (UnicodeEncodeError, TypeError, ValueError, RecursionError):
        raise BadInput("bad_request", "customData must be JSON with valid UTF-8 text") from None
    if len(encoded) > MAX_CUSTOM_DATA:
        raise BadInput("bad_request", f"customData must be under {MAX_CUSTOM_DATA} bytes")
    return value


def is_connection(environ: Any) -> bool:
    """Whether on_connect was called for a real connection (its WSGI-style environ), not for
    an event a client named "connect", which python-socketio dispatches the same way."""
    return isinstance(environ, dict) and "aiohttp.request" in environ


def valid_text(value: str) -> bool:
    """False for text that cannot be stored, such as a lone UTF-16 surrogate."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def details_of(custom: Mapping[str, Any]) -> dict[str, str]:
    """Conversation details worth keeping from customData (shown to agents later)."""
    details: dict[str, str] = {}
    for key in ("page_url", "customer_name", "customer_email", "customer_id"):
        value = custom.get(key)
        if isinstance(value, str) and value:
            details[key] = value[:500]
    return details
