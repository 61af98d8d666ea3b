"""Who is on a case and what the customer is typing, in headless Chromium (issue 22): two
agents' consoles and the customer's widget against the real gateway, Redis and Rasa. Each
console shows the other agent on the case and who types; the agent who has the case sees the
customer's draft as it is typed (the other does not), the customer is told the agent sees it;
the second agent takes the case over with one click and everyone reads who has it now."""

from __future__ import annotations

import uuid

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from frontdesk.console.auth import hash_password
from frontdesk.console.keys import DESK
from tests.browser import ask_in_widget
from tests.console_pages import PASSWORD, agent_page

pytestmark = [pytest.mark.browser, pytest.mark.rasa]


async def test_the_console_shows_who_is_on_a_case_and_the_customers_draft(
    gateway: TestServer, browser: Browser
) -> None:
    customer = await browser.new_page()
    errors: list[str] = []
    customer.on("pageerror", lambda exc: errors.append(str(exc)))
    await customer.goto(str(gateway.make_url("/")))
    await customer.locator(".fd-launcher").click()
    await ask_in_widget(customer, "/human_handoff")

    maria, _, maria_errors = await agent_page(gateway, browser, 1280, 800)
    await maria.locator(".fc-queue .fc-claim").first.click(timeout=20_000)
    joined = customer.locator(".fd-messages li", has_text="Maria joined")
    await expect(joined).to_have_count(1, timeout=20_000)
    case_id = await maria.locator(".fc-case").get_attribute("data-case-id")
    assert case_id

    lena_name = f"lena{uuid.uuid4().hex[:6]}"
    fields = {"display_name": "Lena", "password_hash": hash_password(PASSWORD)}
    await gateway.app[DESK].agents.save(lena_name, fields)
    lena, _, lena_errors = await agent_page(gateway, browser, 1280, 800, name=lena_name)
    await lena.goto(str(gateway.make_url(f"/console/#case={case_id}")))

    # Each sees the other on the case; Lena reads who has it, and cannot reply until she takes
    # it over.
    await expect(maria.locator(".fc-case-viewers .fc-viewer")).to_have_text(["Lena"])
    await expect(lena.locator(".fc-case-viewers .fc-viewer")).to_have_text(["Maria"])
    await expect(lena.locator(".fc-holder-text")).to_contain_text("Maria has this conversation")
    await expect(lena.locator(".fc-reply-text")).to_be_disabled()
    await expect(maria.locator(".fc-holder-bar")).to_be_hidden()

    # The customer types without sending: Maria, who has the case, reads the draft; Lena does
    # not; the widget says the agent sees it.
    await customer.locator(".fd-input").press_sequentially("where is my parc", delay=20)
    await expect(maria.locator(".fc-typing .fc-typing-draft")).to_have_text("where is my parc")
    await expect(customer.locator(".fd-draft-note")).to_be_visible()
    await expect(customer.locator(".fd-draft-note")).to_contain_text("can see what you type")

    # Maria types a reply: Lena sees it.
    await maria.locator(".fc-reply-text").press_sequentially("Let me check", delay=20)
    await expect(lena.locator(".fc-viewer[data-typing='yes']")).to_have_text("Maria is typing…")
    await expect(lena.locator(".fc-typing")).to_be_hidden()  # no draft, no typing for her

    # Lena takes over: her composer opens, Maria's console and the customer say who has it.
    await lena.locator(".fc-take-over").click()
    await expect(lena.locator(".fc-holder-bar")).to_be_hidden()
    await expect(lena.locator(".fc-reply-text")).to_be_enabled()
    await expect(maria.locator(".fc-closed-banner")).to_contain_text("Lena took over")
    await expect(
        customer.locator(".fd-messages li", has_text="Lena has taken over the conversation")
    ).to_have_count(1)

    # From now on the draft goes to Lena.
    await customer.locator(".fd-input").press_sequentially("el", delay=20)
    await expect(lena.locator(".fc-typing .fc-typing-draft")).to_have_text("where is my parcel")

    assert errors == [] and maria_errors == [] and lena_errors == []
