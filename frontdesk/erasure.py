"""What else is erased with a customer's conversations (`server.py customers forget`, and the
retention sweep): the reports' "could not answer" entries made of their words, an e-mail
answer not delivered yet (it holds their address and message), the files they sent, and
what the bot remembers of the conversation (Rasa's tracker), and its entry in the search index."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
from redis.asyncio import Redis

from frontdesk.config import Settings
from frontdesk.core.hours import load_hours
from frontdesk.files.storage import FilePolicy, FileStore
from frontdesk.reports import Reports
from frontdesk.search import Search
from frontdesk.store.cases import CaseStore
from frontdesk.store.mail import MailStore
from frontdesk.store.redis import RedisStore
from frontdesk.store.retention import Eraser


def file_store(settings: Settings) -> FileStore:
    policy = FilePolicy(settings.attachment_max_bytes, settings.attachment_types)
    return FileStore(settings.files_dir, policy)


def report_store(settings: Settings, redis: Redis, cases: CaseStore, store: RedisStore) -> Reports:
    zone = load_hours(settings.flows_dir).zone
    return Reports(redis, cases, store, zone, settings.bot_data_dir)


def customer_erasers(reports: Reports, mail: MailStore, files: FileStore) -> list[Eraser]:
    async def words(conversation_id: str, case_ids: list[str]) -> list[str]:
        erased = await reports.forget(conversation_id)
        return [f"{erased} message(s) in the reports' could-not-answer list"] if erased else []

    async def answers(conversation_id: str, case_ids: list[str]) -> list[str]:
        removed: list[str] = []
        for case_id in case_ids:
            removed += await mail.forget(case_id)
        return removed

    async def sent_files(conversation_id: str, case_ids: list[str]) -> list[str]:
        return await files.forget_owner(conversation_id)

    return [words, answers, sent_files]


def search_eraser(search: Search) -> Eraser:
    """The conversation out of the search index: this machine's at once, every other
    machine's through the search change log (frontdesk.search)."""

    async def index(conversation_id: str, case_ids: list[str]) -> list[str]:
        return await search.forget([conversation_id])

    return index


def bot_memory_eraser(rasa_urls: tuple[str, ...], timeout: float = 10.0) -> Eraser:
    """Empty the conversation's tracker in each Rasa process (its HTTP API, `PUT
    /conversations/<id>/tracker/events` with no events), then read it back to say truly what
    happened. frontdesk's Rasa keeps trackers in memory, so a Rasa that is not running holds
    nothing; a shared Redis tracker store (bot/endpoints.redis.yml) merges instead of
    replacing, so there the words stay until the store's `record_exp` expires them."""

    async def bot_memory(conversation_id: str, case_ids: list[str]) -> list[str]:
        removed: list[str] = []
        limit = aiohttp.ClientTimeout(total=timeout)
        async with aiohttp.ClientSession(timeout=limit) as session:
            for url in rasa_urls:
                tracker = f"{url}/conversations/{quote(conversation_id, safe='')}/tracker"
                try:
                    async with session.put(f"{tracker}/events", json=[]) as response:
                        status = response.status
                    async with session.get(tracker) as response:
                        left = await response.json() if response.status == 200 else {}
                except (aiohttp.ClientError, TimeoutError, ValueError):
                    continue  # not running: its in-memory trackers are gone
                said = [e for e in left.get("events") or [] if e.get("event") == "user"]
                if status == 200 and not said:
                    removed.append(f"the bot's memory of the conversation (Rasa at {url})")
                else:
                    removed.append(
                        f"NOT the bot's memory: Rasa at {url} still holds {len(said)} message(s)"
                        f" (answered {status}; a Redis tracker store expires them by itself)"
                    )
        return removed

    return bot_memory
