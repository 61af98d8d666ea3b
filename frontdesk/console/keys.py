"""The console's typed application keys (set by frontdesk.app)."""

from __future__ import annotations

from aiohttp import web

from frontdesk.core.agentdesk import AgentDesk

DESK = web.AppKey("agent_desk", AgentDesk)
SECRET = web.AppKey("secret", bytes)
