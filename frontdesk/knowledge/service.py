"""The knowledge editor's operations: the shared draft (edit, add, retire), what it changes
against the live version, trying it, and the loop from "could not answer"."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from frontdesk.core.language import detect
from frontdesk.errors import BadInput, BotUnavailable
from frontdesk.knowledge.answers import AREAS, LANGUAGES, NAME, Answer, read_answers
from frontdesk.knowledge.live import LiveTexts
from frontdesk.knowledge.project import model_key, model_name, understanding_key
from frontdesk.knowledge.store import KnowledgeStore, Version
from frontdesk.knowledge.tryout import NotReady, ScratchRasa, TryResult, parse, read_parse
from frontdesk.knowledge.validate import LANGUAGE_NAMES

MAX_TEXT = 4000
MAX_EXAMPLES = 500


def lines(raw: str) -> list[str]:
    """Examples typed one per line: trimmed, blank lines and repeats dropped."""
    seen: list[str] = []
    for line in raw.splitlines():
        line = " ".join(line.strip().lstrip("-").split())
        if line and line not in seen:
            seen.append(line[:300])
    return seen[:MAX_EXAMPLES]


def describe(before: dict[str, Answer], after: dict[str, Answer]) -> list[str]:
    """What a draft changes, in words (kept with the version)."""
    changes: list[str] = []
    for answer_id, new in after.items():
        old = before.get(answer_id)
        if old is None:
            changes.append(f"New answer {answer_id}")
            continue
        if new.retired != old.retired:
            changes.append(f"{'Retired' if new.retired else 'Restored'} {answer_id}")
        for language in LANGUAGES:
            name = LANGUAGE_NAMES[language]
            if new.texts.get(language, "") != old.texts.get(language, ""):
                changes.append(f"{answer_id}: {name} text")
            if new.question.get(language, "") != old.question.get(language, ""):
                changes.append(f"{answer_id}: {name} “Did you mean…?” question")
            added = set(new.examples.get(language, [])) - set(old.examples.get(language, []))
            gone = set(old.examples.get(language, [])) - set(new.examples.get(language, []))
            if added or gone:
                changes.append(
                    f"{answer_id}: {name} examples: {len(added)} added, {len(gone)} removed"
                )
    changes.extend(f"Removed {a}" for a in before if a not in after)
    return changes


class Knowledge:
    def __init__(
        self,
        store: KnowledgeStore,
        live: LiveTexts,
        *,
        data_dir: Path,
        suggestions_file: Path,
        work_dir: Path,
        rasa_urls: tuple[str, ...],
    ) -> None:
        self.store = store
        self.live = live
        self.data_dir = data_dir
        self.suggestions_file = suggestions_file
        self.work_dir = work_dir
        self.models_dir = work_dir / "models"
        self.rasa_urls = rasa_urls
        self.scratch = ScratchRasa(work_dir / "tryout-rasa.log")
        self.tried_key = ""  # the draft model loaded in the scratch Rasa

    async def ensure_started(self) -> None:
        """The first time: the bot's shipped answers become version 1, live, and the draft."""
        if await self.store.versions():
            return
        if not await self.store.redis.set("fd:kb:init", "1", nx=True, ex=60):
            return
        answers = await asyncio.to_thread(read_answers, self.data_dir, self.suggestions_file)
        version = Version(
            1, "frontdesk", time.time(), "As shipped", understanding=understanding_key(answers)
        )
        await self.store.add_version(version, answers)
        await self.store.make_live(1, answers)
        await self.store.save_draft(answers)
        await self.live.refresh()

    async def live_version(self) -> tuple[Version, dict[str, Answer]]:
        await self.ensure_started()
        number = await self.store.live_number()
        version = await self.store.version(number)
        if version is None:
            raise BadInput("no_live_version", "no version is live")
        return version, await self.store.version_answers(number)

    async def draft(self) -> dict[str, Answer]:
        await self.ensure_started()
        return await self.store.draft()

    async def changes(self) -> list[str]:
        _, live = await self.live_version()
        return describe(live, await self.draft())

    # editing the draft
    async def edit(
        self,
        answer_id: str,
        texts: dict[str, str],
        question: dict[str, str],
        examples: dict[str, str],
    ) -> Answer:
        answer = await self.store.answer(answer_id)
        if answer is None:
            raise BadInput("unknown_answer", f"there is no answer {answer_id!r}")
        self._fill(answer, texts, question, examples)
        await self.store.put_answer(answer)
        return answer

    async def add(
        self,
        area: str,
        name: str,
        texts: dict[str, str],
        question: dict[str, str],
        examples: dict[str, str],
    ) -> Answer:
        name = name.strip().lower().replace(" ", "_").replace("-", "_")
        if area not in AREAS:
            raise BadInput("bad_area", f"choose one of the areas: {', '.join(AREAS)}")
        if not NAME.match(name):
            raise BadInput(
                "bad_name",
                "the name is 2 to 41 lower-case letters, digits or _, starting with a letter",
            )
        answer_id = f"{area}/{name}"
        if await self.store.answer(answer_id) is not None:
            raise BadInput("exists", f"there is already an answer {answer_id}")
        answer = Answer(answer_id)
        self._fill(answer, texts, question, examples)
        await self.store.put_answer(answer)
        return answer

    def _fill(
        self,
        answer: Answer,
        texts: dict[str, str],
        question: dict[str, str],
        examples: dict[str, str],
    ) -> None:
        for language in LANGUAGES:
            if language in texts:
                answer.texts[language] = texts[language].replace("\r\n", "\n").strip()[:MAX_TEXT]
            if language in question:
                answer.question[language] = " ".join(question[language].split())[:200]
            if language in examples:
                answer.examples[language] = lines(examples[language])

    async def retire(self, answer_id: str, retired: bool) -> Answer:
        answer = await self.store.answer(answer_id)
        if answer is None:
            raise BadInput("unknown_answer", f"there is no answer {answer_id!r}")
        answer.retired = retired
        await self.store.put_answer(answer)
        return answer

    async def discard(self) -> None:
        _, live = await self.live_version()
        await self.store.save_draft(live)

    # trying the draft
    async def trial(self, draft: dict[str, Answer] | None = None) -> str:
        """Which model answers a try of the draft: "live" (it teaches the bot nothing new),
        "ready" (its own model runs in this process's try-out Rasa), "trained" (its model
        exists but is not loaded here yet) or "untrained"."""
        draft = await self.draft() if draft is None else draft
        version, _ = await self.live_version()
        if understanding_key(draft) == version.understanding:
            return "live"
        key = await asyncio.to_thread(model_key, draft, self.data_dir)
        if self.tried_key == key and self.scratch.url:
            return "ready"
        if (self.models_dir / model_name(key)).is_file() or await self.store.has_model(key):
            return "trained"
        return "untrained"

    async def try_draft(self, text: str, language: str) -> TryResult | NotReady:
        """The bot's best answer and runner-up for a message, by the draft's model; or why
        it cannot say yet. The answer's text is shown in `language`, or when that is not one
        of ours, in the language the message is written in (as a customer's turn would)."""
        text = " ".join(text.split())[:500]
        if not text:
            raise BadInput("empty", "type a message to try")
        if language not in LANGUAGES:
            language = detect(text) or "en"
        trial = await self.trial()
        async with aiohttp.ClientSession() as session:
            if trial == "live":
                body = await self._parse_live(session, text)
                return read_parse(text, language, body, "live")
            if trial == "ready":
                body = await parse(session, self.scratch.url, text)
                return read_parse(text, language, body, "draft")
        if trial == "trained":
            return NotReady(
                "The draft's model is trained: it is being loaded for trying (see the progress "
                "above); ask again when it is ready.",
                trained=True,
            )
        return NotReady("The draft changes what the bot learns: train it to try it.")

    async def _parse_live(self, session: aiohttp.ClientSession, text: str) -> dict[str, object]:
        problem = "no bot server is set"
        for url in self.rasa_urls:
            try:
                return await parse(session, url, text)
            except BotUnavailable as exc:
                problem = str(exc)
        raise BotUnavailable(problem)

    # the loop from /console/unanswered
    async def learn(
        self, example_id: str, text: str, answer_id: str, language: str, by: str
    ) -> bool:
        """An accepted message becomes an example of its answer in the draft (False when the
        draft has no such answer)."""
        answer = await self.store.answer(answer_id)
        if answer is None:
            return False
        examples = answer.examples.setdefault(language if language in LANGUAGES else "en", [])
        if text not in examples:
            examples.append(text)
            await self.store.put_answer(answer)
        record = {"text": text, "answer_id": answer_id, "language": language, "by": by}
        await self.store.add_learned(example_id, {**record, "at": time.time()})
        return True

    async def check_learned(self, version: int, answers: dict[str, Answer]) -> None:
        """After a publish that trained: what the live bot now answers to each message that
        was taught to it in this version."""
        learned = await self.store.learned()
        async with aiohttp.ClientSession() as session:
            for example_id, record in learned.items():
                answer = answers.get(str(record.get("answer_id")))
                taught = answer.examples.get(str(record.get("language")), []) if answer else []
                if record.get("checked_in") or record.get("text") not in taught:
                    continue
                body = await self._parse_live(session, str(record["text"]))
                result = read_parse(str(record["text"]), str(record["language"]), body, "live")
                record["checked_in"] = version
                record["now_answer"] = result.best.answer_id if result.best else ""
                record["now_confidence"] = result.best.confidence if result.best else 0.0
                await self.store.add_learned(example_id, record)
