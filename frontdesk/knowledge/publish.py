"""Publishing the draft, and making any kept version live again (rollback), safely:

1. validation first (knowledge/validate.py); nothing starts while a problem is left;
2. a wording-only change (the bot learns nothing new) goes live at once: a new version with
   the live model, its texts relayed by every gateway process (knowledge/live.py);
3. otherwise a background job: the model for these answers (already trained, restored from
   Redis, or trained now in a working copy, knowledge/project.py), put into every Rasa server
   one at a time (knowledge/rollout.py), and only then the version is live.
One job at a time across every process (a Redis lock); its progress is in Redis for the page.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from frontdesk.botmodel import model_path as shipped_model_path
from frontdesk.errors import BadInput, ConfigError
from frontdesk.knowledge.answers import Answer
from frontdesk.knowledge.project import (
    model_key,
    model_name,
    train,
    understanding_key,
    write_project,
)
from frontdesk.knowledge.rollout import roll_out
from frontdesk.knowledge.service import Knowledge, describe
from frontdesk.knowledge.store import Version
from frontdesk.knowledge.validate import Problem, validate

log = logging.getLogger(__name__)

Work = Callable[[Callable[[str], Awaitable[None]]], Awaitable[str]]


class Publisher:
    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.store = knowledge.store
        self._tasks: set[asyncio.Task[None]] = set()

    async def publish(self, by: str, note: str) -> list[Problem] | str:
        """Problems that stop the publish, or what was done / started."""
        draft = await self.knowledge.draft()
        problems = validate(draft)
        if problems:
            return problems
        live, live_answers = await self.knowledge.live_version()
        changes = describe(live_answers, draft)
        if not changes:
            raise BadInput("no_changes", "the draft is the same as the live version")
        return await self._activate(draft, live, by, note or "Published", changes, reset=False)

    async def make_live(self, number: int, by: str) -> str:
        """Any kept version becomes live again (as a new version: the history stays whole)."""
        live, live_answers = await self.knowledge.live_version()
        if number == live.number:
            raise BadInput("already_live", f"version {number} is live already")
        answers = await self.store.version_answers(number)
        if not answers:
            raise BadInput("no_version", f"there is no version {number}")
        changes = describe(live_answers, answers)
        return await self._activate(answers, live, by, f"Back to version {number}", changes, True)

    async def rollback(self, by: str) -> str:
        live, _ = await self.knowledge.live_version()
        if not live.previous:
            raise BadInput("no_previous", "no earlier version was live")
        return await self.make_live(live.previous, by)

    async def _activate(
        self,
        answers: dict[str, Answer],
        live: Version,
        by: str,
        note: str,
        changes: list[str],
        reset: bool,
    ) -> str:
        understanding = understanding_key(answers)
        if understanding == live.understanding:  # wording only: live now, no training
            number = await self._go_live(answers, live, by, note, changes, live.model, reset)
            return f"Version {number} is live."

        async def work(progress: Callable[[str], Awaitable[None]]) -> str:
            model = await self.model_for(answers, progress)
            await self.store.set_job(step="Loading the new model into the bot")
            await roll_out(self.store, self.knowledge.rasa_urls, model, progress)
            number = await self._go_live(answers, live, by, note, changes, model.name, reset)
            await self.store.set_job(step="Checking the messages taught to the bot")
            await self.knowledge.check_learned(number, answers)
            return f"Version {number} is live."

        key = model_key(answers, self.knowledge.data_dir)
        trained = (self.knowledge.models_dir / model_name(key)).is_file()
        await self.start("publish", by, work)
        if trained or await self.store.has_model(key):  # e.g. trained to try the draft
            return "Publishing in the background: loading the trained model into the bot."
        return "Publishing in the background: training the bot and loading it."

    async def _go_live(
        self,
        answers: dict[str, Answer],
        live: Version,
        by: str,
        note: str,
        changes: list[str],
        model: str,
        reset: bool,
    ) -> int:
        number = await self.store.next_number()
        version = Version(
            number,
            by,
            time.time(),
            note[:200],
            changes,
            model=model,
            understanding=understanding_key(answers),
            previous=live.number,
        )
        await self.store.add_version(version, answers)
        await self.store.make_live(number, answers)
        if reset:
            await self.store.save_draft(answers)
        await self.knowledge.live.refresh()
        return number

    async def train_draft(self, by: str) -> str:
        """Train the draft's model for trying (the same model a publish then uses)."""
        draft = await self.knowledge.draft()
        problems = validate(draft)
        if problems:
            raise BadInput("invalid", "fix the problems first: " + problems[0].message)

        async def work(progress: Callable[[str], Awaitable[None]]) -> str:
            model = await self.model_for(draft, progress)
            await self.store.set_job(step="Starting the try-out bot with the draft")
            await self.knowledge.scratch.load(model)
            self.knowledge.tried_key = model_key(draft, self.knowledge.data_dir)
            return "The draft is ready to try."

        await self.start("train", by, work)
        return "Training the draft in the background."

    async def model_for(
        self, answers: dict[str, Answer], progress: Callable[[str], Awaitable[None]]
    ) -> Path:
        """The trained model for these answers: on disk, from Redis, shipped, or trained now."""
        knowledge = self.knowledge
        key = model_key(answers, knowledge.data_dir)
        path = knowledge.models_dir / model_name(key)
        if path.is_file():
            return path
        data = await self.store.model_bytes(key)
        if data:
            await asyncio.to_thread(_write_atomically, path, data)
            return path
        first = await self.store.version(1)
        if first and first.understanding == understanding_key(answers):
            try:
                shipped = shipped_model_path()
                if shipped.is_file():
                    return shipped
            except ConfigError:
                pass
        await self.store.set_job(step="Writing the bot's working copy")
        work = knowledge.work_dir / key
        await asyncio.to_thread(write_project, work, answers, knowledge.data_dir)
        await self.store.set_job(step="Training the bot (about two minutes)")
        trained = await train(work, knowledge.models_dir, key, progress)
        await self.store.save_model(key, await asyncio.to_thread(trained.read_bytes))
        return trained

    async def start(self, kind: str, by: str, work: Work) -> None:
        token = uuid.uuid4().hex
        if not await self.store.start_job(token, kind, by):
            raise BadInput("busy", "a publish or training is already running; wait for it")

        async def detail(line: str) -> None:
            await self.store.set_job(detail=line)

        async def run() -> None:
            try:
                result = await work(detail)
                await self.store.set_job(state="done", step=result, ended=f"{time.time()}")
            except Exception as exc:  # the page says what failed; nothing went live
                log.exception("knowledge %s failed", kind)
                await self.store.set_job(
                    state="failed", step=f"Failed, nothing changed: {exc}", ended=f"{time.time()}"
                )
            finally:
                await self.store.end_job(token)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Until this process's jobs end (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.knowledge.scratch.stop()


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
