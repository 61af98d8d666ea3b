"""Puts a model into every Rasa server, one at a time, with Rasa's `PUT /model`.

Rasa 3.6 loads the new model completely before it replaces the old one (rasa/server.py:
`_load_agent`, then `app.ctx.agent = new_agent`), so no request ever finds no model; while it
loads, that server answers nothing (loading holds its event loop), so with several Rasa servers
the gateways send that server's conversations to the others meanwhile (fd:kb:swapping, seen by
every process within its one-second refresh). A turn already past parsing when the agent is
replaced is answered by the published text of the answer it parsed (knowledge/live.py), never
by half of each model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from frontdesk.errors import BotUnavailable
from frontdesk.knowledge.store import KnowledgeStore

SETTLE = 1.5  # seconds for every gateway process to see which Rasa is being swapped


async def loaded_model(session: aiohttp.ClientSession, url: str) -> str:
    """The file name of the model a Rasa server runs ('' when it cannot say)."""
    try:
        async with session.get(f"{url}/status", timeout=aiohttp.ClientTimeout(total=10)) as resp:
            body: Any = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return ""
    return Path(str(body.get("model_file") or "")).name if isinstance(body, dict) else ""


async def put_model(
    session: aiohttp.ClientSession, url: str, model: Path, timeout: float = 600.0
) -> None:
    try:
        async with session.put(
            f"{url}/model",
            json={"model_file": str(model)},  # an absolute path (settings resolve them)
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            if resp.status >= 400:
                detail = (await resp.text())[:300]
                raise BotUnavailable(f"{url} refused the model ({resp.status}): {detail}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BotUnavailable(f"{url} could not load the model: {exc}") from exc
    if await loaded_model(session, url) != model.name:
        raise BotUnavailable(f"{url} does not report the new model after loading it")


async def roll_out(
    store: KnowledgeStore,
    urls: Sequence[str],
    model: Path,
    progress: Callable[[str], Awaitable[None]],
) -> None:
    async with aiohttp.ClientSession() as session:
        for index, url in enumerate(urls, 1):
            if await loaded_model(session, url) == model.name:
                await progress(f"Bot server {index} of {len(urls)} already has the model")
                continue
            await progress(f"Loading the model into bot server {index} of {len(urls)}")
            try:
                if len(urls) > 1:
                    await store.set_swapping(url)
                    await asyncio.sleep(SETTLE)
                await put_model(session, url, model)
            finally:
                if len(urls) > 1:
                    await store.set_swapping("")
