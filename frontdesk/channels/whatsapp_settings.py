"""WHATSAPP_* settings, validated at start-up (secrets are never echoed back)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from frontdesk.errors import ConfigError

# Graph API v25.0 (18 February 2026) is supported until July 2028; v21.0 ends in January 2027.
DEFAULT_API_URL = "https://graph.facebook.com/v25.0"
REQUIRED = (
    "WHATSAPP_TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
)


def whatsapp_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The channel is on when all four of REQUIRED are set, off when none is."""
    get = {name: env.get(name, "").strip() for name in REQUIRED}
    missing = [name for name in REQUIRED if not get[name]]
    raw_url = env.get("WHATSAPP_API_URL", "").strip()
    if missing and len(missing) < len(REQUIRED):
        raise ConfigError(
            f"WhatsApp needs all of {', '.join(REQUIRED)}; missing {', '.join(missing)}"
        )
    phone_number_id = get["WHATSAPP_PHONE_NUMBER_ID"]
    if phone_number_id and not phone_number_id.isdigit():
        raise ConfigError(
            "WHATSAPP_PHONE_NUMBER_ID must be the number's id from WhatsApp Manager (digits), "
            "not the phone number itself"
        )
    if any(c.isspace() for c in get["WHATSAPP_TOKEN"]):
        raise ConfigError("WHATSAPP_TOKEN must be the access token alone, without spaces")
    api_url = raw_url or DEFAULT_API_URL
    parsed = urlparse(api_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(
            f"WHATSAPP_API_URL must be a URL starting with http or https, got {api_url!r}"
        )
    return {
        "whatsapp_token": get["WHATSAPP_TOKEN"],
        "whatsapp_phone_number_id": phone_number_id,
        "whatsapp_app_secret": get["WHATSAPP_APP_SECRET"],
        "whatsapp_verify_token": get["WHATSAPP_VERIFY_TOKEN"],
        "whatsapp_api_url": api_url.rstrip("/"),
    }
