"""Reports computed from a scripted day of conversations played through the real gateway (see
tests/reports_scenario.py for the day and the hand-computed figures), as a lead and an agent
download them; roles; and the loop from "the bot could not answer" to a training example in
learned.yml."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer

from frontdesk.config import ROOT
from frontdesk.console.keys import REPORTS
from tests.reports_scenario import COMMENT, PASSWORD, Desk, ask, desk, faq, play

__all__ = ["desk"]  # the fixture

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    """A signed-in browser session on the console, over plain HTTP."""

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

    async def get(self, path: str, **query: str) -> tuple[int, str, Any]:
        url = self.server.make_url(path).with_query(query)
        async with self.http.get(url, allow_redirects=False) as resp:
            return resp.status, await resp.text(), resp.headers

    async def csv(self, report: str, **query: str) -> dict[str, dict[str, str]]:
        """A report's CSV, as rows keyed by their first cell."""
        status, body, headers = await self.get(
            "/console/reports.csv", report=report, period="7d", **query
        )
        assert status == 200, body
        assert headers["Content-Type"].startswith("text/csv")
        assert "attachment" in headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(body)))
        first = next(iter(rows[0])) if rows else ""
        return {row[first]: {k: v for k, v in row.items() if k != first} for row in rows}

    async def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        _, page, _ = await self.get("/console/unanswered")
        token = CSRF.search(page)
        url = self.server.make_url(path)
        data = {**form, "csrf_token": token.group(1) if token else ""}
        async with self.http.post(url, data=data, allow_redirects=False) as resp:
            return resp.status, resp.headers.get("Location", "")

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def consoles(desk: Desk) -> AsyncIterator[Any]:
    opened: list[Console] = []

    async def sign_in(name: str, role: str | None = None) -> Console:
        if role is not None:
            await desk.account(name, role)
        opened.append(await Console(desk.server).login(name))
        return opened[-1]

    yield sign_in
    for console in opened:
        await console.close()


async def test_the_reports_add_up_to_what_happened(desk: Desk, consoles: Any) -> None:
    await play(desk)
    lena = await consoles("lena", "lead")

    conversations = await lena.csv("conversations")
    assert conversations["Total"] == {
        "New conversations opened": "7",  # A-G opened the widget
        "Conversations": "6",  # E only said hello
        "Answered by the bot": "3",  # A, B, D
        "Contained": "1",  # A
        "Handed off": "4",  # B, C, D, G
        "Containment %": "16.7",
        "Handoff rate %": "66.7",
    }
    handoffs = await lena.csv("handoffs")
    counts = {row["Code"]: row["Handoffs"] for row in handoffs.values() if row["Code"]}
    assert counts == {
        "customer_asked": "1",  # G
        "bot_failed": "1",  # C, after two messages the bot did not understand
        "not_answered": "1",  # B, after rating the answer "no"
        "topic": "1",  # D
        "complaint": "0",
    }
    assert handoffs["All handoffs"]["% of conversations"] == "66.7"

    waits = await lena.csv("waits")
    assert waits["Total"] == {
        "Requests (live)": "4",  # B, C, D, and G before leaving a message
        "Gave up waiting": "2",  # D cancelled; G left a message instead
        "Abandonment %": "50.0",
        "Left the page while waiting": "0",  # nobody's page was gone long enough
        "Time to abandon, median (s)": "",
        "Taken by an agent": "2",
        # 22 s and 95 s: buckets up to 25 s and 105 s; the median is the 1st of 2 (nearest
        # rank), the 90th percentile the 2nd.
        "Time in queue, median (s)": "25",
        "Time in queue, p90 (s)": "105",
        "First replies": "2",
        "First response, median (s)": "25",
        "First response, p90 (s)": "105",
        "Quoted waits": "2",  # B (95 s > 60 s quoted) and C (22 s <= 300 s)
        "Within the first quote": "1",
        "Within the first quote %": "50.0",
    }
    messages = await lena.csv("messages")
    assert messages["Total"] == {
        "Messages left": "1",
        "Answered": "0",
        "Answered in time": "0",
        "Closed without a reply": "1",  # G
        "Answered in time %": "",
    }
    satisfaction = await lena.csv("satisfaction")
    assert {
        score: (r["CSAT answers"], r["Effort answers"]) for score, r in satisfaction.items()
    } == {
        "1": ("0", "1"),
        "2": ("1", "0"),
        "3": ("0", "0"),
        "4": ("0", "1"),
        "5": ("1", "0"),
        "Answers": ("2", "2"),
        "Average": ("3.5", "2.5"),
    }
    tags = await lena.csv("tags")
    assert tags["Total"] == {"double charge": "2", "payment failed": "1"}
    answers = await lena.csv("answers")
    assert answers == {
        "billing/invoice_copy": {
            "Served": "2",
            "Rated “yes”": "1",
            "Rated “no”": "1",
            "“No” share %": "50.0",
        },
        "returns/damaged_item": {
            "Served": "1",
            "Rated “yes”": "0",
            "Rated “no”": "0",
            "“No” share %": "",
        },
    }
    assert list(await lena.csv("not_answered")) == ["billing/invoice_copy"]
    comments = list((await lena.csv("comments")).values())
    assert len(comments) == 1
    # A spreadsheet must not run the customer's words as a formula.
    assert comments[0]["Comment"] == "'" + COMMENT
    assert (comments[0]["Agent"], comments[0]["CSAT"], comments[0]["Effort"]) == ("maria", "5", "4")

    # Filters: one agent, one language.
    omar = await lena.csv("waits", agent="omar")
    assert (omar["Total"]["Taken by an agent"], omar["Total"]["First response, p90 (s)"]) == (
        "1",
        "25",
    )
    billing = (await lena.csv("conversations", area="billing"))["Total"]
    assert (billing["Conversations"], billing["Contained"], billing["Handed off"]) == (
        "2",  # A and B
        "1",
        "1",
    )
    # Several filters at once.
    omar_es = await lena.csv("waits", agent="omar", language="es", channel="widget")
    assert omar_es["Total"]["Taken by an agent"] == "1"
    maria_es = await lena.csv("waits", agent="maria", language="es")
    assert maria_es["Total"]["Taken by an agent"] == "0"
    widget_en = (await lena.csv("conversations", channel="widget", language="en"))["Total"]
    assert (widget_en["Conversations"], widget_en["Handed off"]) == ("5", "3")
    spanish = await lena.csv("conversations", language="es")
    assert spanish["Total"]["Conversations"] == spanish["Total"]["Handed off"] == "1"
    spanish_reasons = await lena.csv("handoffs", language="es")
    assert (
        spanish_reasons["Bot could not answer (did not understand / not sure)"]["Handoffs"] == "1"
    )

    # The page shows the same figures: tiles, and the table under each chart.
    status, page, headers = await lena.get("/console/reports", period="7d")
    assert status == 200 and "script-src 'self'" in headers["Content-Security-Policy"]
    assert '<span class="fc-tile-value">16.7 %</span>' in page
    assert COMMENT in page
    assert page.count('<canvas class="fc-chart"') == 9  # with the SLA section (reports/sla.py)


async def test_agents_see_only_their_own_figures_and_anonymous_users_log_in(
    desk: Desk, consoles: Any
) -> None:
    await play(desk)
    maria = await consoles("maria")  # an agent account from the scenario

    status, page, _ = await maria.get("/console/reports")
    assert status == 200 and "My figures" in page
    assert "Containment" not in page and "Could not answer" not in page
    waits = await maria.csv("waits")
    assert "Requests (live)" not in waits["Total"]  # the team's queue is not hers
    assert waits["Total"]["Taken by an agent"] == "1"  # B
    assert waits["Total"]["Time in queue, median (s)"] == "105"
    assert waits["Total"]["Within the first quote %"] == "0.0"
    assert (await maria.csv("messages"))["Total"]["Closed without a reply"] == "1"  # G
    assert (await maria.csv("satisfaction"))["Average"] == {
        "CSAT answers": "5.0",
        "Effort answers": "4.0",
    }
    for path, query in (
        ("/console/reports", {"agent": "omar"}),
        ("/console/reports.csv", {"report": "waits", "agent": "omar"}),
        ("/console/reports.csv", {"report": "conversations"}),
        ("/console/reports.csv", {"report": "answers"}),
        ("/console/unanswered", {}),
    ):
        status, body, _ = await maria.get(path, **query)
        assert status == 403, (path, query, status)
        assert "leads" in body
    status, _ = await maria.post("/console/unanswered/scope", {"item_id": "x"})
    assert status == 403
    status, _ = await maria.post("/console/training/accept", {"example_id": "x"})
    assert status == 403

    async with aiohttp.ClientSession() as anonymous:
        for path in ("/console/reports", "/console/unanswered", "/console/reports.csv"):
            url = desk.server.make_url(path)
            async with anonymous.get(url, allow_redirects=False) as resp:
                assert resp.status == 302, path
                assert resp.headers["Location"] == f"/console/login?next={path}"
        url = desk.server.make_url("/console/unanswered/scope")
        async with anonymous.post(url, data={"item_id": "x"}, allow_redirects=False) as resp:
            assert resp.status == 302
            assert resp.headers["Location"] == "/console/login?next=/console/unanswered"


async def test_a_message_the_bot_could_not_answer_becomes_one_accepted_example(
    desk: Desk, consoles: Any
) -> None:
    real_learned = ROOT / "bot" / "data" / "learned.yml"
    before = real_learned.read_bytes() if real_learned.exists() else None
    desk.fake.script["where is my bill for order [1042]"] = faq("billing/invoice_copy", 0.2)
    desk.fake.script["<b>bill</b> for my order please"] = faq("billing/invoice_copy", 0.3)
    customer = desk.customer()
    await customer.connect()
    await ask(customer, "where is my bill for order [1042]")
    await ask(customer, "<b>bill</b> for my order please")
    await ask(customer, "zzzz qqqq")
    lena = await consoles("lena", "lead")

    status, page, _ = await lena.get("/console/unanswered")
    assert status == 200
    # The customer's words are shown as text, never as markup.
    assert "&lt;b&gt;bill&lt;/b&gt; for my order please" in page and "<b>bill</b>" not in page
    reports = desk.server.app[REPORTS]
    groups = await reports.unanswered.open_groups()
    assert sorted(len(g) for g in groups) == [1, 2]  # the two "bill for my order" ones together
    bill = next(g for g in groups if len(g) == 2)
    item = next(i for i in bill if i["text"].startswith("where is my bill"))
    assert (item["guess"], item["why"], item["confidence"]) == (
        "billing/invoice_copy",
        "unsure",
        "0.200",
    )

    # Attaching adds exactly one pending example (with the lead's edit); a second click, none.
    edited = "where is my bill for order [number]"
    form = {"item_id": item["id"], "answer_id": "billing/invoice_copy", "text": edited}
    assert await lena.post("/console/unanswered/attach", form) == (303, "/console/unanswered")
    assert await lena.post("/console/unanswered/attach", form) == (303, "/console/unanswered")
    pending = await reports.training.pending()
    assert [(p["text"], p["answer_id"]) for p in pending] == [
        ("where is my bill for order (number)", "billing/invoice_copy")  # no Rasa entity syntax
    ]
    _, page, _ = await lena.get("/console/unanswered")
    assert 'Pending training examples <span class="fc-count">1</span>' in page
    assert not (desk.data_dir / "learned.yml").exists()  # nothing written before acceptance

    # Accepting writes exactly that example to learned.yml, in Rasa's NLU format.
    accept = {"example_id": pending[0]["id"]}
    assert await lena.post("/console/training/accept", accept) == (303, "/console/unanswered")
    assert await lena.post("/console/training/accept", accept) == (303, "/console/unanswered")
    learned = yaml.safe_load((desk.data_dir / "learned.yml").read_text(encoding="utf-8"))
    assert learned == {
        "version": "3.1",
        "nlu": [
            {
                "intent": "billing/invoice_copy",
                "examples": "- where is my bill for order (number)\n",
            }
        ],
    }
    assert await reports.training.pending() == []

    # The others: out of scope, a missing answer; an unknown answer is refused.
    other = next(i for g in groups for i in g if i["text"] == "zzzz qqqq")
    form = {"item_id": other["id"], "answer_id": "billing/no_such_answer", "text": "zzzz"}
    await lena.post("/console/unanswered/attach", form)
    assert await reports.training.pending() == []
    await lena.post("/console/unanswered/scope", {"item_id": other["id"]})
    last = next(i for i in bill if i["id"] != item["id"])
    await lena.post("/console/unanswered/missing", {"item_id": last["id"], "note": "HTML help"})
    assert await reports.unanswered.open_groups() == []
    assert [m["note"] for m in await reports.unanswered.missing()] == ["HTML help"]
    # The real bot/data was never touched.
    assert (real_learned.read_bytes() if real_learned.exists() else None) == before
