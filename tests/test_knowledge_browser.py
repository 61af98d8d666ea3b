"""/console/knowledge in headless Chromium against the real Rasa (read-only: wording changes
need no training, so nothing is loaded into the shared Rasa): a lead edits an answer, tries
the draft, publishes, a customer gets the new text; rollback brings the old one back; a
draft with problems (a language missing, an unknown placeholder, an example two answers
claim) is refused with the clash shown."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from frontdesk.console.auth import hash_password
from frontdesk.console.keys import DESK
from tests.support import customer

pytestmark = pytest.mark.browser

PASSWORD = "correct horse"
QUESTION = "What payment methods do you accept?"
NEW_TEXT = "We take Visa, Mastercard and PayPal only, from today."


async def lead_page(server: TestServer, browser: Browser) -> Page:
    await server.app[DESK].agents.save(
        "lena", {"display_name": "Lena", "password_hash": hash_password(PASSWORD), "role": "lead"}
    )
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    await page.goto(str(server.make_url("/console/knowledge")))
    await page.locator("#fc-username").fill("lena")
    await page.locator("#fc-password").fill(PASSWORD)
    await page.locator(".fc-login-submit").click()
    await expect(page.locator(".fc-pages-title")).to_have_text("The bot's answers")
    return page


async def bot_text(server: TestServer, people: list[Any], text: str) -> str:
    client = await customer(server, people)
    await client.say(text)
    messages = await client.answer()
    return "\n\n".join(str(m.get("text") or "") for m in messages)


async def test_edit_try_publish_a_customer_gets_the_new_text_then_rollback(
    gateway: TestServer, browser: Browser, people: list[Any]
) -> None:
    before = await bot_text(gateway, people, QUESTION)
    assert "Visa" in before and NEW_TEXT not in before
    page = await lead_page(gateway, browser)
    await expect(page.locator(".fc-kb-live-number")).to_have_text("1")
    answer = page.locator('[data-answer-id="billing/payment_methods"]')
    await answer.locator("summary").click()
    # Every language side by side, with the question and the examples.
    for lang, words in (("en", "PayPal"), ("ru", "PayPal"), ("es", "PayPal")):
        await expect(answer.locator(f'textarea[name="text_{lang}"]')).to_contain_text(words)
    await expect(answer.locator('input[name="question_ru"]')).not_to_have_value("")
    await expect(answer.locator('textarea[name="examples_es"]')).not_to_have_value("")
    await answer.locator('textarea[name="text_en"]').fill(NEW_TEXT)
    await answer.locator(".fc-kb-save").click()
    await expect(page.locator(".fc-flash")).to_have_text(
        "Saved billing/payment_methods in the draft."
    )
    await expect(page.locator(".fc-kb-changes")).to_contain_text(
        "billing/payment_methods: English text"
    )
    await expect(page.locator(".fc-kb-training-note")).to_contain_text("Only wording changed")

    # Try the draft: the answer, its confidence, the runner-up and the draft's text.
    await page.locator(".fc-kb-try-text").fill("which payment methods can I use")
    await page.locator(".fc-kb-try-form button").click()
    await expect(page.locator(".fc-kb-try-answer")).to_have_text("billing/payment_methods")
    await expect(page.locator(".fc-kb-try-confidence")).to_contain_text("%")
    await expect(page.locator(".fc-kb-try-runner")).not_to_be_empty()
    await expect(page.locator(".fc-kb-try-text-shown")).to_have_text(NEW_TEXT)
    # Customers still get the live text: a draft is not published.
    assert NEW_TEXT not in await bot_text(gateway, people, QUESTION)

    await page.locator(".fc-kb-note").fill("card and PayPal only")
    await page.locator(".fc-kb-publish-btn").click()
    await expect(page.locator(".fc-flash")).to_have_text("Version 2 is live.")
    await expect(page.locator(".fc-kb-live-number")).to_have_text("2")
    assert await bot_text(gateway, people, QUESTION) == NEW_TEXT
    # Russian customers still get their own text: only English was changed.
    russian = await bot_text(gateway, people, "Какие способы оплаты вы принимаете?")
    assert "PayPal" in russian and NEW_TEXT not in russian
    version = page.locator('.fc-kb-version[data-version="2"]')
    await expect(version).to_contain_text("lena")
    await expect(version).to_contain_text("card and PayPal only")

    await page.locator(".fc-kb-rollback").click()
    await expect(page.locator(".fc-flash")).to_have_text("Version 3 is live.")
    await expect(page.locator('.fc-kb-version[data-version="3"]')).to_contain_text(
        "Back to version 1"
    )
    assert await bot_text(gateway, people, QUESTION) == before
    await expect(page.locator(".fc-kb-change-count")).to_have_text("0")


async def test_a_draft_with_problems_is_not_published_and_the_clash_is_shown(
    gateway: TestServer, browser: Browser
) -> None:
    page = await lead_page(gateway, browser)
    form = page.locator(".fc-kb-add-form")
    await form.locator('select[name="area"]').select_option("shipping")
    await form.locator('input[name="name"]').fill("gift_wrapping")
    await form.locator('textarea[name="text_en"]').fill("We wrap it for {recipient}.")
    await form.locator('textarea[name="text_ru"]').fill("Мы упакуем подарок.")
    await form.locator('input[name="question_en"]').fill("Do you gift wrap?")
    await form.locator('input[name="question_ru"]').fill("Вы упаковываете подарки?")
    await form.locator('input[name="question_es"]').fill("¿Envolvéis para regalo?")
    await form.locator('textarea[name="examples_en"]').fill(
        "do you gift wrap\nWhat payment methods do you accept?"
    )
    await form.locator('textarea[name="examples_ru"]').fill("упакуете подарок?")
    await form.locator('textarea[name="examples_es"]').fill("¿envolvéis regalos?")
    await form.locator("button").click()
    await expect(page.locator(".fc-flash")).to_have_text(
        "Added shipping/gift_wrapping to the draft."
    )
    problems = page.locator(".fc-kb-problem")
    await expect(problems.filter(has_text="the Spanish text is missing")).to_have_count(1)
    await expect(problems.filter(has_text="{recipient}")).to_have_count(1)
    clash = problems.filter(has_text="What payment methods do you accept?")
    await expect(clash).to_contain_text("billing/payment_methods")
    await page.locator(".fc-kb-publish-btn").click()
    await expect(page.locator(".fc-flash")).to_have_text(
        "Not published: fix the problems below first."
    )
    await expect(page.locator(".fc-kb-live-number")).to_have_text("1")
    await page.locator(".fc-kb-discard").click()
    await expect(page.locator(".fc-kb-change-count")).to_have_text("0")
    await expect(page.locator(".fc-kb-problem")).to_have_count(0)


async def test_a_plain_agent_cannot_open_the_answers(gateway: TestServer, browser: Browser) -> None:
    await gateway.app[DESK].agents.save(
        "maria", {"display_name": "Maria", "password_hash": hash_password(PASSWORD)}
    )
    page = await browser.new_page()
    await page.goto(str(gateway.make_url("/console/knowledge")))
    await page.locator("#fc-username").fill("maria")
    await page.locator("#fc-password").fill(PASSWORD)
    await page.locator(".fc-login-submit").click()
    await expect(page.locator(".fc-forbidden-text").first).to_have_text(
        "Only leads and admins can edit and publish the bot's answers."
    )
