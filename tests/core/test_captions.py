"""A photo's caption is the customer's words: the bot answers them, and the photo is kept."""

from __future__ import annotations

from frontdesk.core.conversation import State
from frontdesk.core.messages import Inbound
from tests.core.conftest import TEMPLATES, Desk, faq

PHOTO = {"id": "a" * 32, "name": "photo.jpg", "type": "image/jpeg", "size": 2048}


async def send_photo(desk: Desk, text: str, caption: str) -> list[str]:
    before = len(desk.screen.texts("c1"))
    await desk.core.router.accept(Inbound("c1", "widget", text, caption, attachment=PHOTO))
    await desk.core.router.idle()
    return desk.screen.texts("c1")[before:]


async def test_the_bot_answers_a_photos_caption(desk: Desk) -> None:
    await desk.open("c1")
    desk.bot.script["where is my refund"] = faq("returns/policy", 0.9, "5-10 days.")
    replies = await send_photo(desk, "[photo] where is my refund", "where is my refund")
    what = TEMPLATES.render("en", "attachment_photo")
    assert replies == [TEMPLATES.render("en", "attachment_kept_offer", what=what), "5-10 days."]
    conversation = await desk.conversation("c1")
    assert conversation.area == "returns"  # the caption's topic is the conversation's topic


async def test_a_caption_that_needs_a_person_brings_one_with_the_photo(desk: Desk) -> None:
    await desk.open("c1")
    await desk.agent_online("maria")
    desk.bot.script["it arrived broken"] = faq("returns/damaged_item", 0.9, "Sorry!")
    await send_photo(desk, "[photo] it arrived broken", "it arrived broken")
    conversation = await desk.conversation("c1")
    assert conversation.state is State.QUEUED
    case = await desk.cases.get(conversation.case_id)
    assert PHOTO["id"] in str(case)  # the photo is on the agent's card


async def test_a_photo_without_a_caption_is_only_kept(desk: Desk) -> None:
    await desk.open("c1")
    replies = await send_photo(desk, "[photo.jpg]", "")
    what = TEMPLATES.render("en", "attachment_photo")
    assert replies == [TEMPLATES.render("en", "attachment_kept_offer", what=what)]
    assert (await desk.conversation("c1")).state is State.BOT
