"""Forgetting a customer also empties what the bot remembers of their conversation."""

from __future__ import annotations

import uuid

import aiohttp

from frontdesk.erasure import bot_memory_eraser


async def user_texts(session: aiohttp.ClientSession, rasa_url: str, conv: str) -> list[str]:
    async with session.get(f"{rasa_url}/conversations/{conv}/tracker") as response:
        assert response.status == 200
        tracker = await response.json()
    return [e.get("text") for e in tracker["events"] if e.get("event") == "user"]


async def test_the_bots_memory_of_a_forgotten_conversation_is_emptied(rasa_url: str) -> None:
    conv, other = f"web-{uuid.uuid4().hex}", f"web-{uuid.uuid4().hex}"
    async with aiohttp.ClientSession() as session:
        for who in (conv, other):
            message = {"text": "my email is ann@example.com, where is my refund", "sender": "user"}
            url = f"{rasa_url}/conversations/{who}/messages"
            async with session.post(url, json=message) as response:
                assert response.status == 200
        assert await user_texts(session, rasa_url, conv) == [message["text"]]

        removed = await bot_memory_eraser((rasa_url, "http://127.0.0.1:9"))(conv, [])

        assert removed == [f"the bot's memory of the conversation (Rasa at {rasa_url})"]
        assert await user_texts(session, rasa_url, conv) == []
        assert await user_texts(session, rasa_url, other) == [message["text"]]  # only theirs
