"""The console's typed application keys (set by frontdesk.resources and frontdesk.app)."""

from __future__ import annotations

from aiohttp import web

from frontdesk.console.throttle import LoginThrottle
from frontdesk.core.agentdesk import AgentDesk
from frontdesk.reports import Reports

DESK = web.AppKey("agent_desk", AgentDesk)
SECRET = web.AppKey("secret", bytes)
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
REPORTS = web.AppKey("reports", Reports)
