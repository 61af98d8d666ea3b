""" "What would the bot answer to …?" against the draft.

When the draft teaches the bot nothing new (only wording changed), the live bot's model is the
draft's: the question goes to a live Rasa's `/model/parse` (read-only). Otherwise the draft's
own model, once trained in the background, runs in a scratch Rasa process of this gateway
process (never one that customers talk to), and the question goes to its `/model/parse`.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from frontdesk.core.understanding import guesses
from frontdesk.errors import BotUnavailable
from frontdesk.knowledge.rollout import loaded_model, put_model
from frontdesk.supervisor import RasaProcess


@dataclass(frozen=True)
class Guess:
    answer_id: str
    confidence: float


@dataclass(frozen=True)
class TryResult:
    text: str
    language: str
    intent: str  # what the bot took the message for (an area, greet, out_of_scope…)
    best: Guess | None
    runner_up: Guess | None
    against: str  # "live" or "draft"


@dataclass(frozen=True)
class NotReady:
    """Why the draft cannot be tried yet; `trained` when only loading its model is left."""

    message: str
    trained: bool = False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def parse(session: aiohttp.ClientSession, url: str, text: str) -> dict[str, Any]:
    try:
        async with session.post(
            f"{url}/model/parse", json={"text": text}, timeout=aiohttp.ClientTimeout(total=30)
        ) as resp:
            if resp.status >= 400:
                raise BotUnavailable(f"{url} answered {resp.status} to a parse")
            body: Any = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BotUnavailable(f"the bot at {url} could not be reached: {exc}") from exc
    return body if isinstance(body, dict) else {}


def read_parse(text: str, language: str, body: dict[str, Any], against: str) -> TryResult:
    ranked = [Guess(k, round(v, 3)) for k, v in guesses(body)]
    intent = str((body.get("intent") or {}).get("name") or "")
    return TryResult(
        text=text,
        language=language,
        intent=intent,
        best=ranked[0] if ranked else None,
        runner_up=ranked[1] if len(ranked) > 1 else None,
        against=against,
    )


class ScratchRasa:
    """One Rasa process of this gateway process for trying drafts, started on first use."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._rasa: RasaProcess | None = None

    @property
    def url(self) -> str:
        return self._rasa.url if self._rasa else ""

    async def load(self, model: Path) -> str:
        if self._rasa is None:
            rasa = RasaProcess(model, free_port(), log_path=self.log_path)
            await rasa.start()
            self._rasa = rasa
            return rasa.url
        async with aiohttp.ClientSession() as session:
            if await loaded_model(session, self._rasa.url) != model.name:
                await put_model(session, self._rasa.url, model)
        return self._rasa.url

    async def stop(self) -> None:
        rasa, self._rasa = self._rasa, None
        if rasa is not None:
            await rasa.stop()
