"""ATTACHMENT_* settings, validated at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from frontdesk.errors import ConfigError
from frontdesk.files.sniff import TYPES

DEFAULT_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_LINK_TTL = 3600


def _types(raw: str) -> tuple[str, ...]:
    chosen: list[str] = []
    for part in (p.strip().lower() for p in raw.split(",")):
        if not part:
            continue
        mime = TYPES.get(part) or (part if part in TYPES.values() else None)
        if mime is None:
            known = ", ".join(sorted(k for k in TYPES if k != "jpg"))
            raise ConfigError(f"ATTACHMENT_TYPES may list {known}; got {part!r}")
        if mime not in chosen:
            chosen.append(mime)
    if not chosen:
        raise ConfigError("ATTACHMENT_TYPES must list at least one type")
    return tuple(chosen)


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def attachment_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """attachment_max_bytes, attachment_types, attachment_dir (None: DATA_DIR/attachments),
    attachment_link_ttl."""
    raw_dir = env.get("ATTACHMENT_DIR", "").strip()
    types = env.get("ATTACHMENT_TYPES", "").strip()
    return {
        "attachment_max_bytes": _int(env, "ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES, 1, 2**30),
        "attachment_types": _types(types) if types else DEFAULT_TYPES,
        "attachment_dir": Path(raw_dir).expanduser().resolve() if raw_dir else None,
        "attachment_link_ttl": _int(env, "ATTACHMENT_LINK_TTL", DEFAULT_LINK_TTL, 10, 30 * 86400),
    }
