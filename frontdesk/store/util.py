"""Small helpers shared by the Redis stores."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from redis.exceptions import RedisError

from frontdesk.errors import StoreUnavailable


async def call(awaitable: Awaitable[Any]) -> Any:
    """Await a Redis command; a connection problem becomes StoreUnavailable."""
    try:
        return await awaitable
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"Redis: {exc}") from exc


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def text_dict(raw: dict[Any, Any]) -> dict[str, str]:
    return {text(k): text(v) for k, v in raw.items()}
