"""What else is erased with a customer's conversations (`server.py customers forget`, and the
retention sweep): the reports' "could not answer" entries made of their words, an e-mail
answer not delivered yet (it holds their address and message), and the files they sent."""

from __future__ import annotations

from redis.asyncio import Redis

from frontdesk.config import Settings
from frontdesk.core.hours import load_hours
from frontdesk.files.storage import FilePolicy, FileStore
from frontdesk.reports import Reports
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
