"""`server.py customers show|forget|sweep|reindex`: what is stored of a customer, erasing it (the
right to erasure, search index included), the retention sweep on demand, and rebuilding the
search index, in the same Redis the gateway uses."""

from __future__ import annotations

import time

from frontdesk.config import Settings
from frontdesk.core.hours import load_hours
from frontdesk.erasure import (
    bot_memory_eraser,
    customer_erasers,
    file_store,
    report_store,
    search_eraser,
)
from frontdesk.search import Search
from frontdesk.store.cases import CaseStore
from frontdesk.store.embedded import redis_at
from frontdesk.store.mail import MailStore
from frontdesk.store.redis import RedisStore
from frontdesk.store.retention import Erased, Retention, StoredCustomer

DONE, NOTHING_FOUND = 0, 1


def _when(moment: str | float) -> str:
    try:
        value = float(moment)
    except (TypeError, ValueError):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(value)) if value > 0 else "?"


def describe(customer: StoredCustomer) -> list[str]:
    record, fields = customer.record, customer.record.fields
    facts = [
        fields.get("channel") or "?",
        f"state {fields.get('state') or 'bot'}",
        f"{record.messages} message(s)",
        f"created {_when(fields.get('created_at', ''))}",
    ]
    if record.last_message_at:
        facts.append(f"last message {_when(record.last_message_at)}")
    if record.expires_in is not None:
        facts.append(f"no customer message yet: expires in {record.expires_in / 3600:.1f} h")
    if not record.exists:
        facts = ["no conversation record left"]
    lines = [f"conversation {record.id} ({', '.join(facts)})"]
    who = [fields[k] for k in ("customer_name", "customer_id", "channel_user") if fields.get(k)]
    if who:
        lines.append(f"  customer: {', '.join(who)}")
    if customer.emails:
        lines.append(f"  e-mail: {', '.join(sorted(customer.emails))}")
    for case in customer.cases:
        parts = [
            case.get("kind") or "live",
            case.get("state") or "?",
            f"requested {_when(case.get('requested_at', ''))}",
        ]
        if case.get("closed_at"):
            parts.append(f"closed {_when(case['closed_at'])}")
        if case.get("agent"):
            parts.append(f"agent {case['agent']}")
        parts.append(f"{case.get('notes', '0')} note(s)")
        lines.append(f"  case {case['id']}: {', '.join(parts)}")
    return lines


def describe_erased(erased: list[Erased]) -> list[str]:
    lines = []
    for item in erased:
        lines.append(f"removed conversation {item.conversation_id} ({item.cases} case(s)):")
        lines += [f"  {name}" for name in item.removed]
    return lines


async def manage_customers(
    settings: Settings, action: str, target: str = "", force: bool = False
) -> tuple[str, int]:
    """The text to print and the exit code (0 done, 1 nothing found)."""
    async with redis_at(settings.redis_url, settings.data_dir) as redis:
        store, cases = RedisStore(redis), CaseStore(redis)
        reports = report_store(settings, redis, cases, store)
        search = Search(redis, settings.data_dir, load_hours(settings.flows_dir).zone)
        erasers = [
            *customer_erasers(reports, MailStore(redis), file_store(settings)),
            bot_memory_eraser(settings.rasa_urls),
            search_eraser(search),
        ]
        retention = Retention(store, cases, settings.retention_days, erasers)
        if action == "reindex":
            count = await search.rebuild()
            return (
                f"search index rebuilt: {count} conversation(s) in {search.path}; "
                "every other machine's indexer rebuilds its own",
                DONE,
            )
        if action == "sweep":
            report = await retention.sweep()
            lines = [report.summary(settings.retention_days)]
            lines += [f"  {e.conversation_id}" for e in report.removed]
            return "\n".join(lines), DONE
        if action == "show":
            found = await retention.find(target)
            lines = [line for customer in found for line in describe(customer)]
        else:
            erased = await retention.forget(target, force)
            found_any = any(e.removed for e in erased)
            lines = describe_erased(erased) if found_any else []
        if not lines:
            return f"nothing stored for {target!r}", NOTHING_FOUND
        return "\n".join(lines), DONE
