"""Helpers for the search tests: agents with roles, customers who say something (and, if asked,
get a person), the console over plain HTTP, and waiting until the index has caught up."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from frontdesk.console.auth import hash_password, socket_token
from frontdesk.console.keys import DESK, SECRET
from frontdesk.console.search_views import SEARCH
from tests.support import AgentClient, WidgetClient

PASSWORD = "correct horse"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HIT = re.compile(r'data-conversation-id="([^"]+)"')


async def account(server: TestServer, name: str, role: str = "agent") -> None:
    fields = {
        "display_name": name.capitalize(),
        "password_hash": hash_password(PASSWORD),
        "capacity": "3",
        "role": role,
    }
    await server.app[DESK].agents.save(name, fields)


async def caught_up(*servers: TestServer) -> None:
    """Every change so far is in each server's (machine's) index."""
    for server in servers:
        await server.app[SEARCH].caught_up()


class Console:
    """A signed-in agent's browser session on the console, over plain HTTP."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def login(self, name: str) -> Console:
        url = self.server.make_url("/console/login")
        async with self.http.get(url) as resp:
            token = CSRF.search(await resp.text())
        assert token
        form = {"username": name, "password": PASSWORD, "csrf_token": token.group(1)}
        async with self.http.post(url, data=form, allow_redirects=False) as resp:
            assert resp.status == 302, await resp.text()
        return self

    async def get(self, path: str, **query: str) -> tuple[int, str]:
        url = self.server.make_url(path).with_query(query)
        async with self.http.get(url, allow_redirects=False) as resp:
            return resp.status, await resp.text()

    async def found(self, q: str, **filters: str) -> list[str]:
        """The conversation ids the search page lists, in order."""
        status, page = await self.get("/console/search", q=q, **filters)
        assert status == 200, page
        return HIT.findall(page)

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def consoles() -> AsyncIterator[Callable[..., Any]]:
    opened: list[Console] = []

    async def sign_in(server: TestServer, name: str, role: str = "agent") -> Console:
        await account(server, name, role)
        opened.append(await Console(server).login(name))
        return opened[-1]

    yield sign_in
    for console in opened:
        await console.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[Any]]:
    opened: list[Any] = []
    yield opened
    for client in opened:
        await client.close()


async def say(server: TestServer, clients: list[Any], *texts: str, **custom: str) -> WidgetClient:
    """A new widget customer who says each text and waits for the bot's answer."""
    client = WidgetClient(str(server.make_url("/")).rstrip("/"))
    clients.append(client)
    await client.connect(custom=dict(custom) or None)
    for text in texts:
        await client.say(text)
        await client.answer()
    return client


async def agent(server: TestServer, clients: list[Any], name: str) -> AgentClient:
    """An agent's console connection (the account made first)."""
    await account(server, name)
    client = AgentClient(
        str(server.make_url("/")).rstrip("/"), socket_token(server.app[SECRET], name)
    )
    clients.append(client)
    await client.connect()
    return client


async def queued_case(desk_agent: AgentClient, conversation_id: str) -> str:
    queue = await desk_agent.until(
        "queue", lambda q: any(i["conversation_id"] == conversation_id for i in q["items"])
    )
    return str(
        next(i for i in queue["items"] if i["conversation_id"] == conversation_id)["case_id"]
    )


async def handed_to(
    server: TestServer, clients: list[Any], name: str, customer: WidgetClient, reply: str
) -> str:
    """The customer asks for a person; agent `name` takes the case and replies. The case id."""
    desk_agent = await agent(server, clients, name)
    await customer.say("/human_handoff", title="Talk to a person")
    await customer.answer()
    case_id = await queued_case(desk_agent, customer.session_id)
    assert (await desk_agent.call("claim", {"case_id": case_id}))["ok"]
    assert (await desk_agent.call("reply", {"case_id": case_id, "text": reply}))["ok"]
    await customer.until_message(lambda m: m.get("text") == reply)
    return case_id
