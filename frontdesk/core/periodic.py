"""Background work that runs every few seconds for as long as the gateway does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from frontdesk.errors import StoreUnavailable

log = logging.getLogger(__name__)


async def repeat(what: str, step: Callable[[], Awaitable[None]], every: float) -> None:
    """Run `step` every `every` seconds, forever. The store being away is a warning, anything
    else is logged with its traceback; neither stops the loop (cancel the task to stop it)."""
    while True:
        try:
            await step()
        except StoreUnavailable as exc:
            log.warning("%s: %s", what, exc)
        except Exception:
            log.exception("%s failed", what)
        await asyncio.sleep(every)
