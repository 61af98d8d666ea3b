"""`server.py agents add|list|remove`: manage agent accounts in the same Redis the gateway uses."""

from __future__ import annotations

import getpass
import sys
import time

from frontdesk.config import Settings
from frontdesk.console.auth import hash_password
from frontdesk.console.roles import ROLES, role_of
from frontdesk.errors import ConfigError
from frontdesk.store.agents import AgentStore
from frontdesk.store.embedded import redis_at

MIN_PASSWORD = 8


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise ConfigError("the passwords differ")
    return first


async def manage_agents(
    settings: Settings,
    action: str,
    name: str = "",
    display_name: str = "",
    capacity: int = 0,
    password: str = "",
    role: str = "",
) -> str:
    """role: agent | lead | admin (console/roles.py); a new account without one is an agent,
    an existing one keeps its role unless a new one is given."""
    async with redis_at(settings.redis_url, settings.data_dir) as redis:
        agents = AgentStore(redis)
        if action == "add":
            if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
                raise ConfigError("an agent name is letters, digits, '-', '_' or '.'")
            if role and role not in ROLES:
                raise ConfigError(f"a role is one of {', '.join(ROLES)}, got {role!r}")
            if len(password) < MIN_PASSWORD:
                raise ConfigError(f"the password needs at least {MIN_PASSWORD} characters")
            fields = {
                "display_name": display_name or name,
                "password_hash": hash_password(password),
                "created_at": f"{time.time():.0f}",
                "role": role or role_of(await agents.get(name)),
            }
            if capacity:
                fields["capacity"] = str(capacity)
            await agents.save(name, fields)
            return f"agent {name!r} saved ({fields['display_name']}, {fields['role']})"
        if action == "remove":
            await agents.remove(name)
            return f"agent {name!r} removed"
        rows = [await agents.get(n) for n in await agents.names()]
        lines = [
            f"{r['name']}\t{r.get('display_name', '')}\t{role_of(r)}"
            f"\tcapacity {r.get('capacity', 'default')}"
            for r in rows
        ]
        return "\n".join(lines) or "no agents yet: python server.py agents add NAME"
