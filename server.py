"""frontdesk entry point: `python server.py [run|gateway|train] ...`. Composition only."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from aiohttp import web

from frontdesk.app import make_app
from frontdesk.botmodel import ensure_model
from frontdesk.config import Settings, load_settings
from frontdesk.errors import FrontdeskError
from frontdesk.supervisor import RasaProcess

log = logging.getLogger("frontdesk")


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
            print(f"Starting Rasa on {rasa.url} (log: {rasa.log_path}); about 45 s…", flush=True)
            starting = asyncio.create_task(rasa.start())
            waiting = asyncio.create_task(stop.wait())
            await asyncio.wait({starting, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                starting.cancel()
                return
            waiting.cancel()
            starting.result()
        runner = web.AppRunner(make_app(settings), handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
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
        if runner is not None:
            await runner.cleanup()
        if rasa is not None:
            await rasa.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="server.py", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run", help="train if needed, start Rasa (unless RASA_URL is set) and the gateway"
    )
    commands.add_parser("gateway", help="start only the gateway (Rasa at RASA_URL)")
    train = commands.add_parser("train", help="train the Rasa model if its inputs changed")
    train.add_argument("--config", default="config.yml", help="Rasa config file inside bot/")
    args = parser.parse_args(argv)

    try:
        if args.command == "train":
            print(ensure_model(args.config))
            return 0
        settings = load_settings()
        logging.basicConfig(
            level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        import os

        start_rasa = args.command == "run" and not os.environ.get("RASA_URL")
        asyncio.run(serve(settings, start_rasa))
    except FrontdeskError as exc:
        print(f"frontdesk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
