"""The knowledge editor's resources for the gateway: the live texts (refreshed every second in
every process), the editor and the publisher, and a watch that puts the live version's model
back into a Rasa server that restarted with another one (every 30 seconds)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from frontdesk.config import Settings
from frontdesk.errors import BadInput, BotUnavailable, StoreUnavailable
from frontdesk.knowledge.live import LiveTexts
from frontdesk.knowledge.publish import Publisher
from frontdesk.knowledge.rollout import loaded_model, put_model
from frontdesk.knowledge.service import Knowledge
from frontdesk.knowledge.store import KnowledgeStore

log = logging.getLogger(__name__)

WATCH_EVERY = 30.0


@dataclass(frozen=True)
class KnowledgeDesk:
    knowledge: Knowledge
    publisher: Publisher


KNOWLEDGE = web.AppKey("knowledge", KnowledgeDesk)


def make_knowledge(app: web.Application, settings: Settings) -> KnowledgeDesk:
    from frontdesk.keys import FLOWS, REDIS  # the app's keys; not at import (cycle)

    store = KnowledgeStore(app[REDIS])
    flows = app.get(FLOWS)
    live = LiveTexts(store, lambda: flows.suggestions if flows else None)
    knowledge = Knowledge(
        store,
        live,
        data_dir=settings.bot_data_dir,
        suggestions_file=settings.flows_dir / "suggestions.yml",
        work_dir=settings.knowledge_path,
        rasa_urls=settings.rasa_urls,
    )
    return KnowledgeDesk(knowledge, Publisher(knowledge))


@contextlib.asynccontextmanager
async def knowledge_running(app: web.Application, settings: Settings) -> AsyncIterator[LiveTexts]:
    desk = make_knowledge(app, settings)
    app[KNOWLEDGE] = desk
    with contextlib.suppress(StoreUnavailable):
        await desk.knowledge.live.refresh()
    tasks = [
        asyncio.create_task(desk.knowledge.live.run()),
        asyncio.create_task(_watch(desk)),
    ]
    try:
        yield desk.knowledge.live
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await desk.publisher.stop()


async def _watch(desk: KnowledgeDesk) -> None:
    while True:
        try:
            await restore_live_model(desk)
        except (StoreUnavailable, BotUnavailable, BadInput, OSError) as exc:
            log.warning("could not check the bot's model: %s", exc)
        await asyncio.sleep(WATCH_EVERY)


async def restore_live_model(desk: KnowledgeDesk) -> int:
    """A Rasa server that runs another model than the live version's (it restarted with the
    shipped one) gets the live one again. How many were put back."""
    store = desk.knowledge.store
    number = await store.live_number()
    version = await store.version(number) if number else None
    if version is None or not version.model or (await store.job()).get("state") == "running":
        return 0
    put = 0
    async with aiohttp.ClientSession() as session:
        for url in desk.knowledge.rasa_urls:
            running = await loaded_model(session, url)
            if not running or running == version.model:
                continue
            answers = await store.version_answers(number)

            async def quiet(_: str) -> None:
                return None

            model = await desk.publisher.model_for(answers, quiet)
            if model.name != version.model:
                continue  # only ever a model this version was published with
            log.warning("%s runs %s; putting back the live version %d", url, running, number)
            await put_model(session, url, model)
            put += 1
    return put
