"""/console/reports in headless Chromium: a lead signs in, the charts are drawn (canvas pixels,
and a screenshot), the page runs under the console's CSP with no error, and each report's CSV
download holds the numbers of the table under its chart."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from tests.reports_scenario import PASSWORD, Desk, desk, play

__all__ = ["desk"]  # the fixture

pytestmark = pytest.mark.browser

# Pixels of a canvas that are not transparent: a drawn chart has bars, lines and axes.
PAINTED = """canvas => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted += 1;
  return painted;
}"""


async def test_the_reports_page_draws_charts_and_exports_the_same_numbers(
    desk: Desk, browser: Browser, tmp_path: Path
) -> None:
    await play(desk)
    await desk.account("lena", "lead", "Lena")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))

    def console(msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning"):
            problems.append(f"console.{msg.type}: {msg.text}")

    page.on("console", console)

    await page.goto(str(desk.server.make_url("/console/reports?period=30d")))
    await expect(page).to_have_url(re.compile(r"/console/login\?next=/console/reports"))
    await page.locator("#fc-username").fill("lena")
    await page.locator("#fc-password").fill(PASSWORD)
    await page.locator(".fc-login-submit").click()
    await expect(page.locator(".fc-pages-title")).to_contain_text("Reports")

    canvases = page.locator("canvas.fc-chart")
    await expect(canvases).to_have_count(9)
    await expect(page.locator('canvas.fc-chart[data-drawn="yes"]')).to_have_count(9)
    for section in ("conversations", "handoffs", "waits", "satisfaction", "tags", "answers"):
        canvas = page.locator(f"#report-{section} canvas.fc-chart")
        assert await canvas.evaluate(PAINTED) > 500, section
    shot = tmp_path / "reports.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000

    tile = page.locator(".fc-tile", has_text="Containment").locator(".fc-tile-value")
    await expect(tile).to_have_text("16.7 %")

    # Each report's CSV link downloads the numbers of the table under its chart.
    for section in ("conversations", "handoffs", "waits", "satisfaction", "tags", "sla"):
        report = page.locator(f"#report-{section}")
        href = await report.locator("a.fc-csv").get_attribute("href")
        assert href is not None
        response = await page.request.get(str(desk.server.make_url(href)))
        assert response.ok and response.headers["content-type"].startswith("text/csv")
        exported = list(csv.reader(io.StringIO(await response.text())))
        header = await report.locator("thead th").all_inner_texts()
        rows = [
            await row.locator("th, td").all_inner_texts()
            for row in await report.locator("tbody tr").all()
        ]
        assert exported == [header, *rows], section
    total = page.locator("#report-conversations tbody tr", has_text="Total")
    cells = await total.locator("th, td").all_inner_texts()
    assert cells == ["Total", "7", "6", "3", "1", "4", "16.7", "66.7"]

    # Filtering by language redraws the page for the Spanish conversations only.
    await page.locator('select[name="language"]').select_option("es")
    await page.locator(".fc-report-show").click()
    await expect(page).to_have_url(re.compile(r"language=es"))
    await expect(page.locator(".fc-tile", has_text="Conversations")).to_contain_text("1")
    await expect(page.locator('canvas.fc-chart[data-drawn="yes"]')).to_have_count(9)
    assert problems == []


async def _signed_in(desk: Desk, browser: Browser, name: str, path: str) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(str(desk.server.make_url(path)))
    await page.locator("#fc-username").fill(name)
    await page.locator("#fc-password").fill(PASSWORD)
    await page.locator(".fc-login-submit").click()
    return page


async def _options(page: Page, name: str) -> list[str]:
    return [
        t.strip() for t in await page.locator(f'select[name="{name}"] option').all_inner_texts()
    ]


async def test_filters_and_the_could_not_answer_page_read_as_words_not_codes(
    desk: Desk, browser: Browser
) -> None:
    await play(desk)
    await desk.account("lena", "lead", "Lena")
    page = await _signed_in(desk, browser, "lena", "/console/reports?period=30d")
    await page.goto(str(desk.server.make_url("/console/")))  # a lead's console links every page
    for link in ("reports", "search", "unanswered", "knowledge"):
        await expect(page.locator(f".fc-{link}-link")).to_be_visible()
    await page.goto(str(desk.server.make_url("/console/reports?period=30d")))
    await expect(page.locator(".fc-pages-title")).to_contain_text("Reports")
    assert await _options(page, "channel") == ["All", "Website", "Telegram", "Messenger"]
    assert await _options(page, "language") == ["All", "English", "Spanish", "Russian"]
    assert await _options(page, "area") == [
        "All",
        "Billing",
        "Orders",
        "Shipping",
        "Returns and exchanges",
        "Account",
    ]
    assert "Maria (maria)" in await _options(page, "agent")
    # The form still sends the codes.
    await page.locator('select[name="language"]').select_option(label="Spanish")
    await page.locator('select[name="channel"]').select_option(label="Website")
    await page.locator(".fc-report-show").click()
    await expect(page).to_have_url(re.compile(r"channel=widget&language=es"))
    await expect(page.locator('select[name="language"] option:checked')).to_have_text("Spanish")

    # What the bot could not answer: channels, languages and FAQ answers in words.
    await page.goto(str(desk.server.make_url("/console/unanswered")))
    items = page.locator(".fc-unanswered-item")
    await expect(items.first).to_be_visible()
    unsure = items.filter(has_text="bill copy pls")
    await expect(unsure.locator(".fc-item-guess")).to_have_text(
        "Billing: How do I get a copy of my invoice?"
    )
    await expect(unsure.locator(".fc-chip-channel")).to_have_text("Website")
    await expect(unsure.locator(".fc-chip-lang")).to_have_text("English")
    await expect(items.filter(has_text="qwertz").locator(".fc-chip-lang")).to_have_text("Spanish")
    answers = await unsure.locator(".fc-attach-answer option").all_inner_texts()
    assert "Billing: Which currencies can I pay in?" in answers
    shown = await page.locator("main").inner_text()
    for code in ("billing/", "widget"):
        assert code not in shown, code
    assert not re.search(r"\b(en|es|ru)\b", shown), shown


async def test_a_plain_agent_reads_her_own_figures_and_what_she_cannot_open(
    desk: Desk, browser: Browser
) -> None:
    await play(desk)  # maria is a plain agent
    page = await _signed_in(desk, browser, "maria", "/console/reports?period=30d")
    await expect(page.locator(".fc-pages-title")).to_contain_text("My figures")
    await expect(page.locator(".fc-own-note")).to_have_text(
        "Your own figures: the conversations you took, the messages you answered and the "
        "cases you closed. The whole team's reports are for leads and admins."
    )
    await expect(page.locator(".fc-nav-link", has_text="Could not answer")).to_have_count(0)

    # Pages her role does not open say so as she reads it: no server commands.
    for path, sentence in (
        ("/console/unanswered", "Only leads and admins can review what the bot could not answer."),
        (
            "/console/reports.csv?report=conversations",
            "Only leads and admins can see the team's reports.",
        ),
        ("/console/reports?agent=omar", "Only leads and admins can see another agent's figures."),
    ):
        response = await page.goto(str(desk.server.make_url(path)))
        assert response is not None and response.status == 403, path
        await expect(page.locator("h1")).to_have_text("For leads and admins")
        await expect(page.locator(".fc-forbidden-text").first).to_have_text(sentence)
        text = await page.locator("body").inner_text()
        assert "server.py" not in text and " is for " not in text, text
    await page.locator("a", has_text="My figures").click()
    await expect(page.locator(".fc-pages-title")).to_contain_text("My figures")
    # The console itself links to the pages her role opens: reports and search, not the bot's.
    await page.goto(str(desk.server.make_url("/console/")))
    await expect(page.locator(".fc-search-link")).to_be_visible()
    await expect(page.locator(".fc-knowledge-link")).to_have_count(0)
    await expect(page.locator(".fc-unanswered-link")).to_have_count(0)
