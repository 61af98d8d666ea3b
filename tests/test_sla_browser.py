"""Service-level targets in the console, in headless Chromium: the queue shows each waiting
customer's time left to a first response, counting down by itself, marked at risk and
breached; the case card shows both targets; the lead is alerted when one is breached and a
plain agent is not."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from frontdesk.console.auth import hash_password
from frontdesk.console.keys import DESK
from frontdesk.keys import SLA_WATCH
from tests.console_pages import PASSWORD, agent_page, waiting_customers
from tests.support import WidgetClient

pytestmark = pytest.mark.browser


async def test_the_queue_and_card_mark_time_left_at_risk_and_breached_and_the_lead_is_alerted(
    offline_gateway: Callable[..., Any],
    browser: Browser,
    people: list[WidgetClient],
    redis_url: str,
) -> None:
    server: TestServer = await offline_gateway()
    lead = {"display_name": "Lena", "password_hash": hash_password(PASSWORD), "role": "lead"}
    await server.app[DESK].agents.save("lena", lead)
    await waiting_customers(server, people, 3)
    waiting = await server.app[DESK].queue_items()
    late, soon, fine = (item["case_id"] for item in waiting)

    # Five minutes to a first response (flows/sla.yml); one is past it, one has a minute left.
    now = time.time()
    client = aioredis.Redis.from_url(redis_url)
    await client.hset(f"fd:case:{late}", "sla_first_due", f"{now - 120:.3f}")
    await client.hset(f"fd:case:{soon}", "sla_first_due", f"{now + 60:.3f}")
    await client.aclose()

    maria, _, maria_errors = await agent_page(server, browser, 1280, 800)
    lena, _, lena_errors = await agent_page(server, browser, 1280, 800, name="lena")
    queue = maria.locator(".fc-queue")
    badge = {case: queue.locator(f'[data-case-id="{case}"] .fc-sla') for case in (late, soon, fine)}
    await expect(badge[late]).to_have_attribute("data-sla-state", "breached")
    await expect(badge[late]).to_contain_text("Breached")
    await expect(queue.locator(f'li[data-case-id="{late}"]')).to_have_attribute(
        "data-sla-state", "breached"
    )
    await expect(badge[soon]).to_have_attribute("data-sla-state", "at_risk")
    await expect(badge[soon]).to_contain_text("At risk")
    await expect(badge[fine]).to_have_attribute("data-sla-state", "ok")
    await expect(badge[fine]).to_contain_text(" left")
    # It counts down by itself, with no message from the server.
    shown = await badge[fine].text_content()
    await expect(badge[fine]).not_to_have_text(shown or "")

    # The lead hears of the breach; the plain agent does not.
    assert await server.app[SLA_WATCH].check() == 1
    alert = lena.locator(".fc-sla-alert")
    await expect(alert).to_have_count(1)
    await expect(alert).to_contain_text("First response target missed")
    await expect(alert).to_contain_text("still waiting")
    await alert.locator(".fc-sla-alert-dismiss").click()
    await expect(alert).to_have_count(0)
    assert await maria.locator(".fc-sla-alert").count() == 0

    # The card of the late case: first response breached, resolution still on track.
    await queue.locator(f'[data-case-id="{late}"] .fc-claim').click()
    card = maria.locator(".fc-card")
    await expect(card.locator(".fc-card-sla-first .fc-sla")).to_have_attribute(
        "data-sla-state", "breached"
    )
    await expect(card.locator(".fc-card-sla-resolve .fc-sla")).to_contain_text(" left")
    assert maria_errors == [] and lena_errors == []
