"""What else is erased with a customer's conversations (`server.py customers forget`, and the
retention sweep): the reports' "could not answer" entries made of their words, and an e-mail
answer not delivered yet (it holds their address and message)."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from frontdesk.core.hours import load_hours
from frontdesk.reports import Reports
from frontdesk.store.cases import CaseStore
from frontdesk.store.mail import MailStore
from frontdesk.store.redis import RedisStore
from frontdesk.store.retention import Eraser


def customer_erasers(redis: Redis, flows_dir: Path, bot_data_dir: Path) -> list[Eraser]:
    reports = Reports(
        redis, CaseStore(redis), RedisStore(redis), load_hours(flows_dir).zone, bot_data_dir
    )
    mail = MailStore(redis)

    async def words(conversation_id: str, case_ids: list[str]) -> list[str]:
        erased = await reports.forget(conversation_id)
        return [f"{erased} message(s) in the reports' could-not-answer list"] if erased else []

    async def answers(conversation_id: str, case_ids: list[str]) -> list[str]:
        removed: list[str] = []
        for case_id in case_ids:
            removed += await mail.forget(case_id)
        return removed

    return [words, answers]
