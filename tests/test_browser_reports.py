"""/console/reports in headless Chromium: a lead signs in, the charts are drawn (canvas pixels,
and a screenshot), the page runs under the console's CSP with no error, and each report's CSV
download holds the numbers of the table under its chart."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, expect

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
    await expect(canvases).to_have_count(8)
    await expect(page.locator('canvas.fc-chart[data-drawn="yes"]')).to_have_count(8)
    for section in ("conversations", "handoffs", "waits", "satisfaction", "tags", "answers"):
        canvas = page.locator(f"#report-{section} canvas.fc-chart")
        assert await canvas.evaluate(PAINTED) > 500, section
    shot = tmp_path / "reports.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000

    tile = page.locator(".fc-tile", has_text="Containment").locator(".fc-tile-value")
    await expect(tile).to_have_text("16.7 %")

    # Each report's CSV link downloads the numbers of the table under its chart.
    for section in ("conversations", "handoffs", "waits", "satisfaction", "tags"):
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
    await expect(page.locator('canvas.fc-chart[data-drawn="yes"]')).to_have_count(8)
    assert problems == []
