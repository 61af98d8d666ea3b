"""Small pieces the platform channels share: tracked background work and text limits."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine
from typing import Any

from frontdesk.errors import FrontdeskError

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Work a webhook started after answering: referenced until done, errors logged, awaited
    at shutdown so nothing accepted is dropped."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=f"{self.name}: {what}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, FrontdeskError):
            log.error("%s failed: %s", task.get_name(), exc)
        elif exc is not None:
            log.error("%s failed", task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    async def finish(self) -> None:
        """Wait for every task, including ones the running tasks start."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(body: bytes, value: Any) -> bool:
    """Whether any text in `value`, parsed from the JSON `body` (keys too), holds a lone UTF-16
    surrogate (a `\\ud800` escape without its pair), which no store or platform takes."""
    if not _SURROGATE_ESCAPE.search(body):  # pairs are joined when parsed; only escapes make them
        return False
    stack = [value]
    while stack:  # not recursive: the body may be nested as deep as the JSON parser goes
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def utf16_len(text: str) -> int:
    """Length as Telegram and Messenger count it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int) -> list[str]:
    """Cut text into parts of at most `limit` UTF-16 units, at a paragraph, line or word
    break when one falls in the second half of a part; whitespace at the cuts is dropped."""
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        window = _prefix(rest, limit)
        cut = len(window)
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at >= len(window) // 2:
                cut = at
                break
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def _prefix(text: str, limit: int) -> str:
    """The longest prefix of text within `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
