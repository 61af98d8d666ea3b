"""The embedded Redis keeps data across restarts; the conversation's language is honoured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from frontdesk.store import RedisStore
from frontdesk.store.embedded import EmbeddedRedis
from tests.support import WidgetClient


async def test_embedded_redis_keeps_transcripts_across_a_restart(tmp_path: Path) -> None:
    for attempt in range(2):
        embedded = EmbeddedRedis(tmp_path)
        redis = Redis.from_url(await embedded.start())
        store = RedisStore(redis)
        if attempt == 0:
            result = await store.append("c1", {"role": "customer", "text": "hello"}, "m1")
            assert result.seq == 1
        else:
            history = await store.history("c1")
            assert [(e["seq"], e["text"]) for e in history] == [(1, "hello")]
            assert (await store.append("c1", {"role": "customer", "text": "hello"}, "m1")).duplicate
        await redis.aclose()
        await embedded.stop()


async def test_the_gateways_own_messages_follow_the_customers_language(
    offline_gateway: Callable[..., Any],
) -> None:
    server: TestServer = await offline_gateway()
    base = str(server.make_url("/")).rstrip("/")
    spanish, russian = WidgetClient(base), WidgetClient(base)
    try:
        await spanish.connect()
        # Rasa's clients send customData with each message rather than with the session.
        await spanish.say("¿Dónde está mi pedido?", customData={"language": "es-ES"})
        [reply] = await spanish.answer()
        assert reply["text"].startswith("Nuestro asistente tiene problemas")
        # From the browser's Accept-Language when the widget does not say.
        await russian.sio.connect(
            base, headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}, transports=["websocket"]
        )
        await russian.sio.emit(
            "session_request", {"session_id": russian.session_id, "frontdesk": 1}
        )
        await russian.next("history")
        await russian.say("Где мой заказ?")
        [reply] = await russian.answer()
        assert reply["text"].startswith("У нашего ассистента сейчас проблемы")
    finally:
        await spanish.close()
        await russian.close()
