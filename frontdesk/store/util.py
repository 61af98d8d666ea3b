"""Small helpers shared by the Redis stores."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any

from redis.exceptions import RedisError

from frontdesk.errors import StoreUnavailable


@contextmanager
def redis_errors(what: str = "Redis") -> Iterator[None]:
    """A connection problem with Redis inside the block becomes StoreUnavailable."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"{what}: {exc}") from exc


async def call(awaitable: Awaitable[Any]) -> Any:
    """Await one Redis command; a connection problem becomes StoreUnavailable."""
    with redis_errors():
        return await awaitable


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def text_dict(raw: dict[Any, Any]) -> dict[str, str]:
    return {text(k): text(v) for k, v in raw.items()}
