"""Who is on a case: the agents' consoles that have it open, and whether they are typing.

Kept in Redis, so every gateway process sees the consoles of the others: one hash per case,
`fd:viewers:<case id>`, a field per console connection (its Socket.IO sid, unique across
processes) holding `{agent, typing_until, until}`. A console says it views a case when it opens
it and again every HEARTBEAT seconds while it keeps it open; an entry not renewed within
VIEW_TTL is gone (a console whose process died leaves no ghost behind), and so is the hash
(its expiry is renewed with every write). Typing lasts TYPING_TTL after the last keystroke
signal (the console repeats it every 2 s while the agent types).

The changes reach the consoles through Socket.IO rooms (`case:<id>`, one per case a console
views), whose emits the Socket.IO Redis manager carries to every process: Redis keeps the
state a console that opens the case reads, the manager carries the news.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from frontdesk.store.util import call, redis_errors, text

VIEW_TTL = 75.0  # seconds a view lasts without the console's heartbeat
HEARTBEAT = 25.0  # the console renews its view this often (console/static/viewers.js)
TYPING_TTL = 6.0  # seconds "typing" lasts after the last signal


def viewers_key(case_id: str) -> str:
    return f"fd:viewers:{case_id}"


def case_room(case_id: str) -> str:
    return f"case:{case_id}"


@dataclass(frozen=True)
class Viewer:
    agent: str
    typing: bool


class CaseViewers:
    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.clock = clock

    async def view(self, case_id: str, sid: str, agent: str) -> bool:
        """The console `sid` of `agent` has the case open (renewed); True when it is new."""
        return await self._put(case_id, sid, agent, typing=None)

    async def typing(self, case_id: str, sid: str, agent: str, typing: bool) -> bool:
        """The agent types on the case (or stopped); True when that changed what others see."""
        return await self._put(case_id, sid, agent, typing=typing)

    async def leave(self, case_id: str, sid: str) -> bool:
        """The console closed the case (or went away); True when it was viewing it."""
        return bool(await call(self.redis.hdel(viewers_key(case_id), sid)))

    async def viewers(self, case_id: str) -> list[Viewer]:
        """The agents on the case now, one each (typing when any of their consoles types),
        by name; expired entries are removed."""
        raw = await call(self.redis.hgetall(viewers_key(case_id)))
        now = self.clock()
        found: dict[str, bool] = {}
        stale = []
        for field, value in raw.items():
            entry = _entry(value)
            if entry is None or entry.until < now:
                stale.append(field)
                continue
            found[entry.agent] = found.get(entry.agent, False) or entry.typing_until >= now
        if stale:
            await call(self.redis.hdel(viewers_key(case_id), *stale))
        return [Viewer(agent, typing) for agent, typing in sorted(found.items())]

    async def _put(self, case_id: str, sid: str, agent: str, typing: bool | None) -> bool:
        key = viewers_key(case_id)
        now = self.clock()
        before = _entry(await call(self.redis.hget(key, sid)))
        was_typing = before is not None and before.typing_until >= now
        if typing is None:  # a view (or its heartbeat) keeps the typing it had
            typing_until = before.typing_until if before is not None else 0.0
        else:
            typing_until = now + TYPING_TTL if typing else 0.0
        entry = {"agent": agent, "until": now + VIEW_TTL, "typing_until": typing_until}
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, sid, json.dumps(entry))
                pipe.expire(key, int(VIEW_TTL) + 5)
                await pipe.execute()
        fresh = before is None or before.until < now
        return fresh or (typing is not None and typing != was_typing)


@dataclass(frozen=True)
class _Entry:
    agent: str
    until: float
    typing_until: float


def _entry(value: Any) -> _Entry | None:
    """A stored view; None when absent or unreadable."""
    if value is None:
        return None
    try:
        entry = json.loads(text(value))
        return _Entry(str(entry["agent"]), float(entry["until"]), float(entry["typing_until"]))
    except (ValueError, TypeError, KeyError):
        return None
