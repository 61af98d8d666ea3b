"""frontdesk entry point: `python server.py [run|gateway|train|telegram] ...`. Composition only."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

import aiohttp
from aiohttp import web

from frontdesk.agents_cli import manage_agents, read_password
from frontdesk.app import make_app
from frontdesk.botmodel import ensure_model
from frontdesk.channels.http import RetryPolicy
from frontdesk.channels.telegram_api import TelegramApi
from frontdesk.config import Settings, load_settings
from frontdesk.customers_cli import manage_customers
from frontdesk.errors import ConfigError, FrontdeskError
from frontdesk.supervisor import RasaProcess

log = logging.getLogger("frontdesk")


# The cyclic garbage collector, tuned for a server that keeps many long-lived objects
# (connections, sessions, caches) and allocates many short-lived ones per message: with
# Python's default (700, 10, 10) a young collection runs every 700 allocations and, often,
# walks the older generations too, about a quarter of the gateway's CPU per connection and per
# relayed message. Everything made at start-up is frozen (never scanned again); the young
# generation is collected every 20,000 allocations. Garbage that is only freed by the
# collector (reference cycles) lives a little longer: bench/connections.py and bench/relay.py
# print the memory it costs.
GC_THRESHOLDS = (20_000, 50, 100)


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run the server on uvloop (libuv), whose event loop costs the gateway about a quarter less
    CPU per relayed message and per session than asyncio's own (bench/relay.py prints both).
    EVENT_LOOP=asyncio keeps Python's loop (e.g. to profile the loop itself)."""
    if os.environ.get("EVENT_LOOP", "uvloop") == "asyncio":
        asyncio.run(main)
        return
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def serve(settings: Settings, start_rasa: bool) -> None:
    rasa: RasaProcess | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner: web.AppRunner | None = None
    try:
        if start_rasa:
            model = ensure_model()
            port = int(settings.rasa_urls[0].rsplit(":", 1)[1])
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            rasa = RasaProcess(model, port, log_path=settings.data_dir / "rasa.log")
            print(
                f"Starting Rasa on {rasa.url} (log: {rasa.log_path}); under a minute…", flush=True
            )
            starting = asyncio.create_task(rasa.start())
            waiting = asyncio.create_task(stop.wait())
            await asyncio.wait({starting, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                starting.cancel()
                return
            waiting.cancel()
            starting.result()
        # Open connections (widgets, consoles) get a few seconds, not aiohttp's default minute.
        runner = web.AppRunner(make_app(settings), handle_signals=False, shutdown_timeout=3)
        await runner.setup()
        # Connections waiting to be accepted: aiohttp's default, 128, overflows when a killed
        # process's widgets all reconnect to this one (SYNs dropped, retried 1, 3, 7 s later;
        # nginx's connect times out and takes the process out). The kernel caps it (somaxconn).
        site = web.TCPSite(runner, settings.host, settings.port, backlog=4096)
        await site.start()
        tune_gc()  # after start-up: what it made is frozen
        where = (
            "embedded Redis in " + str(settings.data_dir)
            if settings.embedded_redis
            else settings.redis_url
        )
        print(
            f"frontdesk is up: open {settings.base_url}/  (Redis: {where}; Rasa: "
            f"{', '.join(settings.rasa_urls)}). Ctrl-C stops everything.",
            flush=True,
        )
        await stop.wait()
        print("Stopping…", flush=True)
    finally:
        # Rasa stops while the gateway finishes: everything is gone within ~15 s.
        stopping = [rasa.stop(grace=10)] if rasa is not None else []
        if runner is not None:
            stopping.append(runner.cleanup())
        await asyncio.gather(*stopping)


async def telegram_webhook(settings: Settings, action: str, url: str | None = None) -> str:
    """`telegram set-webhook [URL]` / `telegram delete-webhook`: register with the Bot API."""
    if not settings.telegram_enabled:
        raise ConfigError("TELEGRAM_TOKEN is not set (environment or CREDENTIALS_FILE)")
    policy = RetryPolicy(settings.channel_api_attempts, settings.channel_api_timeout)
    async with aiohttp.ClientSession() as session:
        api = TelegramApi(session, settings.telegram_api_url, settings.telegram_token, policy)
        if action == "delete-webhook":
            await api.delete_webhook()
            return "Telegram webhook removed; `server.py telegram poll` can fetch updates now."
        target = url or settings.telegram_webhook_url
        if not target and settings.public_url:
            target = f"{settings.public_url}/channels/telegram"
        if not target:
            raise ConfigError("give the webhook URL: server.py telegram set-webhook URL")
        if not target.startswith("https://"):
            raise ConfigError(f"Telegram only calls https:// webhooks, got {target!r}")
        if not settings.telegram_secret_token:
            raise ConfigError("TELEGRAM_SECRET_TOKEN is needed so the webhook can be verified")
        await api.set_webhook(target, settings.telegram_secret_token)
        return f"Telegram now sends updates to {target} (with the secret token)."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="server.py", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run", help="train if needed, start Rasa (unless RASA_URL is set) and the gateway"
    )
    commands.add_parser("gateway", help="start only the gateway (Rasa at RASA_URL)")
    train = commands.add_parser("train", help="train the Rasa model if its inputs changed")
    train.add_argument("--config", default="config.yml", help="Rasa config file inside bot/")
    telegram = commands.add_parser("telegram", help="Telegram: register the webhook, or poll")
    telegram_commands = telegram.add_subparsers(dest="action", required=True)
    set_webhook = telegram_commands.add_parser(
        "set-webhook", help="setWebhook with TELEGRAM_SECRET_TOKEN"
    )
    set_webhook.add_argument(
        "url", nargs="?", help="https URL of /channels/telegram (default: from the settings)"
    )
    telegram_commands.add_parser("delete-webhook", help="deleteWebhook (before polling)")
    telegram_commands.add_parser(
        "poll", help="like `run`, but fetch Telegram updates by long polling (development)"
    )
    agents = commands.add_parser("agents", help="manage agent accounts for the console")
    agent_commands = agents.add_subparsers(dest="action", required=True)
    add = agent_commands.add_parser("add", help="create or update an agent (asks for a password)")
    add.add_argument("name")
    add.add_argument("--display-name", default="", help="the name customers see (default: NAME)")
    add.add_argument("--capacity", type=int, default=0, help="conversations at once")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument(
        "--role",
        choices=("agent", "lead", "admin"),
        default="",
        help="agent (default for a new account), or lead/admin: reports and what the bot "
        "could not answer",
    )
    agent_commands.add_parser("list", help="list agents")
    agent_commands.add_parser("remove", help="remove an agent").add_argument("name")
    customers = commands.add_parser(
        "customers", help="what is stored of a customer; erase it; the retention sweep"
    )
    customer_commands = customers.add_subparsers(dest="action", required=True)
    customer_commands.add_parser(
        "show", help="list a customer's conversations and cases"
    ).add_argument("target", metavar="ID_OR_EMAIL", help="a conversation id or an e-mail")
    forget = customer_commands.add_parser(
        "forget", help="delete a customer's conversations, transcripts and cases"
    )
    forget.add_argument("target", metavar="ID_OR_EMAIL", help="a conversation id or an e-mail")
    forget.add_argument("--force", action="store_true", help="even while waiting or with an agent")
    customer_commands.add_parser("sweep", help="remove conversations older than RETENTION_DAYS now")
    customer_commands.add_parser(
        "reindex", help="rebuild the search index from the stored conversations (every machine's)"
    )
    args = parser.parse_args(argv)

    try:
        if args.command == "train":
            print(ensure_model(args.config))
            return 0
        polling = args.command == "telegram" and args.action == "poll"
        settings = load_settings({**os.environ, "TELEGRAM_MODE": "polling"} if polling else None)
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        if args.command == "agents":
            password = read_password(args.password_stdin) if args.action == "add" else ""
            print(
                asyncio.run(
                    manage_agents(
                        settings,
                        args.action,
                        getattr(args, "name", ""),
                        getattr(args, "display_name", ""),
                        getattr(args, "capacity", 0),
                        password,
                        getattr(args, "role", ""),
                    )
                )
            )
            return 0
        if args.command == "customers":
            text, code = asyncio.run(
                manage_customers(
                    settings,
                    args.action,
                    getattr(args, "target", ""),
                    getattr(args, "force", False),
                )
            )
            print(text, file=sys.stderr if code else sys.stdout)
            return code
        if args.command == "telegram" and not polling:
            print(asyncio.run(telegram_webhook(settings, args.action, getattr(args, "url", None))))
            return 0
        if polling and not settings.telegram_enabled:
            raise ConfigError("TELEGRAM_TOKEN is not set (environment or CREDENTIALS_FILE)")
        start_rasa = args.command in ("run", "telegram") and not os.environ.get("RASA_URL")
        run_loop(serve(settings, start_rasa))
    except FrontdeskError as exc:
        print(f"frontdesk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
