"""A small real aiohttp server standing in for Rasa's frontdesk channel, with scripted turns.

The routing rules (unsure answers, two fallbacks, topic handoff, languages, answer ids and
ratings) are the gateway's, not the model's: tests script what "the bot" understood and check
what the customer sees, without training or starting Rasa."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Turn:
    """What the scripted bot understood and says for one message."""

    intent: str
    confidence: float = 0.95
    answer: str | None = None  # area/question for FAQ areas
    answer_confidence: float = 0.9
    texts: tuple[str, ...] = ("",)
    control: dict[str, Any] | None = None
    entities: tuple[tuple[str, str], ...] = ()  # (entity, value): order_number, email, product
    ranking: tuple[tuple[str, float], ...] = ()  # other answers weighed: (area/question, conf)

    def body(self) -> dict[str, Any]:
        messages: list[dict[str, Any]] = [{"text": t} for t in self.texts if t]
        if self.control:
            messages.append({"custom": {"frontdesk": self.control}})
        understood: dict[str, Any] = {
            "intent": {"name": self.intent, "confidence": self.confidence},
            "entities": [{"entity": name, "value": value} for name, value in self.entities],
        }
        if self.answer:
            area = self.intent
            understood["response_selector"] = {
                area: {
                    "response": {
                        "intent_response_key": self.answer,
                        "confidence": self.answer_confidence,
                    }
                }
            }
        weighed = [(self.answer, self.answer_confidence)] if self.answer else []
        for answer, confidence in [*weighed, *self.ranking]:
            selector = understood.setdefault("response_selector", {})
            ranking = selector.setdefault(answer.split("/")[0], {}).setdefault("ranking", [])
            ranking.append({"intent_response_key": answer, "confidence": confidence})
        return {"messages": messages, "understood": understood}


@dataclass
class FakeRasa:
    script: dict[str, Turn] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/frontdesk/webhook", self.webhook)
        app.router.add_get("/status", self.status)
        return app

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        turn = self.script.get(body["message"])
        if turn is None:
            turn = Turn("nlu_fallback", 0.2, texts=("Could you rephrase that?",))
            turn.control = {"event": "fallback"}
        return web.json_response(turn.body())

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({"model_file": "fake.tar.gz"})


@pytest.fixture
async def fake_rasa(
    aiohttp_server: Callable[..., Any],
) -> AsyncIterator[tuple[FakeRasa, str]]:
    fake = FakeRasa()
    server: TestServer = await aiohttp_server(fake.app())
    yield fake, str(server.make_url("")).rstrip("/")
