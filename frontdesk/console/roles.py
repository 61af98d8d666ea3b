"""Who is signed in to the console, and what their role lets them see.

Roles (the agent account's `role` field; `server.py agents add NAME --role lead`):

- `agent` (the default): the console, and on /console/reports their OWN figures only (the
  cases they took, replied to and closed: waits, first response, left messages answered,
  satisfaction, tags). Anything else — another agent's figures, the team-wide reports (their
  CSVs included), /console/unanswered and its actions — answers 403.
- `lead`: everything on /console/reports, for the team or any agent, and /console/unanswered:
  attach a message to an FAQ answer, mark it out of scope, note a missing answer, accept or
  reject pending training examples.
- `admin`: what a lead may do (the role is kept apart for account management to come).

Anyone not signed in is sent to the login page, and comes back after it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from aiohttp import web
from aiohttp_session import Session, get_session
from yarl import URL

from frontdesk.console.keys import DESK

ROLES = ("agent", "lead", "admin")
LEADS = ("lead", "admin")


@dataclass(frozen=True)
class SignedIn:
    name: str
    display_name: str
    role: str
    session: Session

    @property
    def lead(self) -> bool:
        return self.role in LEADS


def role_of(account: dict[str, str]) -> str:
    role = account.get("role", "")
    return role if role in ROLES else "agent"


async def signed_in(request: web.Request, back: str = "") -> SignedIn:
    """The agent of this session; anonymous: redirected to the login page, and from there
    back to this page (or to `back`: where a form posted from lives)."""
    session = await get_session(request)
    name = session.get("agent")
    account = (
        await request.config_dict[DESK].agents.get(name) if isinstance(name, str) and name else {}
    )
    if not account:
        after = back or (request.path_qs if request.method == "GET" else "/console/")
        raise web.HTTPFound(str(URL("/console/login").with_query(next=after)))
    return SignedIn(
        name=name if isinstance(name, str) else "",
        display_name=account.get("display_name") or str(name),
        role=role_of(account),
        session=session,
    )


FORBIDDEN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>For leads and admins · frontdesk</title>
<link rel="stylesheet" href="/console/static/console.css"></head>
<body class="fc-page fc-forbidden-page"><main class="fc-forbidden">
<h1 class="fc-forbidden-title">For leads and admins</h1>
<p class="fc-forbidden-text">{sentence}</p>
<p class="fc-forbidden-text">Your own figures are on <a href="/console/reports">My figures</a>.
If your work needs more, ask your team lead to give your account the lead role.</p>
<p><a class="fc-btn" href="/console/">Back to the conversations</a></p>
</main></body></html>
"""


def forbidden(sentence: str) -> web.HTTPForbidden:
    """A page for an agent who followed a link their role does not open: what it is and what
    they can do instead, as one reads it (no server commands)."""
    return web.HTTPForbidden(
        text=FORBIDDEN_PAGE.format(sentence=html.escape(sentence)), content_type="text/html"
    )


async def lead_only(request: web.Request, sentence: str, back: str = "") -> SignedIn:
    """The signed-in lead or admin; anyone else gets the forbidden page saying `sentence`."""
    who = await signed_in(request, back)
    if not who.lead:
        raise forbidden(sentence)
    return who
