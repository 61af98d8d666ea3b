"""Abuse — one client writing at full speed must not slow everybody else down.

100 ordinary customers (frontdesk's widget protocol, one conversation each) each send a
message every 1-2 s for the measured window and time it from `user_uttered` to the first
`bot_uttered` of the answer. Runs, each against a fresh gateway:

  alone          the ordinary customers only (the baseline);
  abuse          the same, plus one abusive client sending `user_uttered` as fast as the
                 gateway acknowledges (64 in flight), with the default limits
                 (RATE_LIMIT_PER_SECOND=2, RATE_LIMIT_BURST=8, MAX_PENDING_TURNS=10);
  abuse, no limits  the same with the limits off (RATE_LIMIT_PER_SECOND=0, MAX_PENDING_TURNS=0),
                 for contrast (skip with --no-contrast).

Figures: ordinary customers' p50/p99 per run, p99 with the abuser / alone (goal: within 2x), and
how many of the abuser's messages were accepted and how many refused (`rate_limited`). A fast
stand-in bot answers every message (after --bot-ms); no Rasa is involved. By default the
gateway is pinned to CPU 0 and the generators to CPU 1; Redis and the stand-in bot are not.

    .venv/bin/python bench/abuse.py [--customers 100] [--seconds 20] [--no-contrast] [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    FAQ_QUESTIONS,
    PYTHON,
    Latencies,
    Services,
    WindowCpu,
    _http_ok,
    figure,
    free_port,
    print_header,
    ratio_text,
    run_generators,
    shares_text,
    timed,
    wait_until,
)

BENCH = "abuse"
SETUP_SECONDS = 8.0  # for every generator to connect before the measured window opens
IN_FLIGHT = 64  # the abuser's unacknowledged messages at any time
LIMITED = {"RATE_LIMIT_PER_SECOND": "2", "RATE_LIMIT_BURST": "8", "MAX_PENDING_TURNS": "10"}
UNLIMITED = {"RATE_LIMIT_PER_SECOND": "0", "MAX_PENDING_TURNS": "0"}


def stand_in_bot(port: int, delay: float) -> None:
    """Answers every message with one text after `delay` seconds, in the shape of the bot's
    frontdesk channel (bot/channels/frontdesk.py); the intent needs no handoff."""
    from aiohttp import web

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        if delay:
            await asyncio.sleep(delay)
        messages = [{"recipient_id": body.get("sender"), "text": "Here is what you asked for."}]
        understood = {"intent": {"name": "greet", "confidence": 0.99}, "entities": []}
        return web.json_response({"messages": messages, "understood": understood})

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"model_file": "stand-in"})

    app = web.Application()
    app.router.add_post("/webhooks/frontdesk/webhook", webhook)
    app.router.add_get("/status", status)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


# -- load (runs in generator processes) --------------------------------------------------------


async def _session(url: str) -> tuple[Any, str, asyncio.Queue[tuple[str, Any]]]:
    import socketio

    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("bot_uttered", lambda data: events.put_nowait(("bot", data)))
    sio.on("bot_typing", lambda data: events.put_nowait(("typing", data)))
    sio.on("session_confirm", lambda data: events.put_nowait(("confirm", data)))
    await sio.connect(url, transports=["websocket"], wait_timeout=30)
    await sio.emit("session_request", {"frontdesk": 1})
    while True:
        kind, data = await asyncio.wait_for(events.get(), 30)
        if kind == "confirm":
            return sio, data, events


async def customers_load(
    url: str, count: int, start_at: float, seconds: float, pids: dict[str, int]
) -> dict[str, Any]:
    """`count` ordinary customers, each one message every 1-2 s (send to send)."""
    first = Latencies()
    refused = 0
    end_at = start_at + seconds

    async def one(index: int) -> None:
        nonlocal refused
        rng = random.Random(index)
        try:
            sio, session_id, events = await _session(url)
        except (TimeoutError, OSError, Exception):
            first.errors += 1
            return
        try:
            await asyncio.sleep(max(0.0, start_at - time.time()) + rng.uniform(0, 2))
            while time.time() < end_at:
                sent_at = time.time()
                t0 = time.monotonic()
                question = FAQ_QUESTIONS[rng.randrange(len(FAQ_QUESTIONS))]
                payload = {
                    "message": question,
                    "session_id": session_id,
                    "client_msg_id": uuid.uuid4().hex,
                }
                ack = await sio.call("user_uttered", payload, timeout=30)
                if not ack.get("ok"):
                    refused += 1
                else:
                    answered = ended = False
                    while not ended:  # to the end of the turn, timing its first answer
                        kind, data = await asyncio.wait_for(events.get(), 30)
                        if kind == "bot" and not answered:
                            answered = True
                            if sent_at < end_at:
                                first.add(t0, time.monotonic())
                        elif kind == "typing" and not data["typing"]:
                            ended = data["in_reply_to"] >= ack["seq"]
                pause = rng.uniform(1.0, 2.0) - (time.time() - sent_at)
                await asyncio.sleep(max(0.0, pause))
        except (TimeoutError, OSError, Exception):
            first.errors += 1
        finally:
            with contextlib.suppress(Exception):
                await sio.disconnect()

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    window = WindowCpu(pids)
    await asyncio.sleep(max(0.0, end_at - time.time()))
    shares = window.shares()
    await asyncio.gather(*tasks)
    return {"first": first.to_dict(), "refused": refused, "cpu": shares}


async def abuser_load(url: str, start_at: float, seconds: float) -> dict[str, Any]:
    """One client sending as fast as acknowledgements come back, IN_FLIGHT at a time; when the
    gateway closes its connection it reconnects at once and starts over in a new conversation
    (the most a flooder gets: a fresh burst each time). It shares the generators' core with
    the customers' process at a lower priority, so that its own CPU (an attacker's, on another
    machine in real life) delays theirs less; how fast it managed to send is printed."""
    os.nice(10)
    counts = {"accepted": 0, "rate_limited": 0, "other": 0, "disconnected": 0}
    end_at = start_at + seconds
    await asyncio.sleep(max(0.0, start_at - time.time()))
    n = 0

    async def flood() -> None:
        nonlocal n
        sio, session_id, _ = await _session(url)
        closed = asyncio.Event()
        sio.on("disconnect", lambda *_: closed.set())

        async def sender() -> None:
            nonlocal n
            while time.time() < end_at and sio.connected:
                n += 1
                payload = {
                    "message": f"spam {n}",
                    "session_id": session_id,
                    "client_msg_id": f"s{n}",
                }
                try:
                    ack = await sio.call("user_uttered", payload, timeout=10)
                except Exception:
                    return
                if ack.get("ok"):
                    counts["accepted"] += 1
                elif ack.get("error", {}).get("code") == "rate_limited":
                    counts["rate_limited"] += 1
                else:
                    counts["other"] += 1

        senders = asyncio.gather(*(sender() for _ in range(IN_FLIGHT)))
        await asyncio.wait(
            [senders, asyncio.ensure_future(closed.wait())], return_when="FIRST_COMPLETED"
        )
        if closed.is_set():
            counts["disconnected"] += 1
        senders.cancel()
        with contextlib.suppress(BaseException):
            await senders
        with contextlib.suppress(Exception):
            await sio.disconnect()

    while time.time() < end_at:
        try:
            await flood()
        except (TimeoutError, OSError, Exception):
            counts["other"] += 1
    return counts


async def generator(role: str, *args: Any) -> dict[str, Any]:
    if role == "customers":
        return await customers_load(*args)
    return await abuser_load(*args)


# -- the bench ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per run")
    parser.add_argument("--bot-ms", type=float, default=20.0, help="the stand-in bot's delay")
    parser.add_argument("--no-contrast", action="store_true", help="skip the run without limits")
    parser.add_argument("--no-pin", action="store_true", help="do not pin gateway/generators")
    parser.add_argument("--stand-in-bot", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stand_in_bot:
        stand_in_bot(args.stand_in_bot, args.bot_ms / 1000)
        return 0

    cores = os.cpu_count() or 1
    pinning = not args.no_pin and cores >= 2
    server_cpu, gen_cpu = ({0}, {1}) if pinning else (None, None)
    print_header("bench/abuse.py — ordinary customers' latency with and without an abuser")
    print(
        f"   {args.customers} customers, one message every 1-2 s each, {args.seconds:.0f} s "
        f"measured per run; stand-in bot answers after {args.bot_ms:.0f} ms; "
        + ("gateway on CPU 0, generators on CPU 1" if pinning else "no pinning"),
        flush=True,
    )
    runs = [("alone", LIMITED, False), ("abuse", LIMITED, True)]
    if not args.no_contrast:
        runs.append(("abuse, no limits", UNLIMITED, True))
    results: dict[str, dict[str, Any]] = {}
    me = str(Path(__file__).resolve())
    with Services(BENCH) as services:
        redis_url, redis = services.redis()
        port = free_port()
        bot = services.spawn(
            [PYTHON, me, "--stand-in-bot", str(port), "--bot-ms", str(args.bot_ms)], "bot.log"
        )
        bot_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _http_ok(f"{bot_url}/status"), 30, "stand-in bot", bot)
        with timed("measuring"):
            for name, limits, abusive in runs:
                url, gateway = services.gateway(
                    redis_url, bot_url, name=name.replace(", ", "-"), cpus=server_cpu, **limits
                )
                pids = {"gateway": gateway.pid, "redis": redis.pid, "bot": bot.pid}
                start_at = time.time() + SETUP_SECONDS
                jobs: list[tuple[Any, ...]] = [
                    ("customers", url, args.customers, start_at, args.seconds, pids)
                ]
                if abusive:
                    jobs.append(("abuser", url, start_at, args.seconds))
                run = run_generators(generator, jobs, gen_cpu)
                out = run.results[0]
                lat = Latencies.from_dict(out["first"])
                abuse = run.results[1] if abusive else None
                results[name] = {"lat": lat, "refused": out["refused"], "abuse": abuse}
                line = f"   {name:<17} customers: {lat.text()}"
                if out["refused"]:
                    line += f", {out['refused']} of theirs refused"
                if abuse:
                    sent = abuse["accepted"] + abuse["rate_limited"] + abuse["other"]
                    line += (
                        f"; abuser: {sent / args.seconds:.0f} messages/s, "
                        f"{abuse['accepted']} accepted, "
                        f"{abuse['rate_limited']} rate_limited, "
                        f"disconnected {abuse['disconnected']} times"
                        + (f", {abuse['other']} other" if abuse["other"] else "")
                    )
                print(f"{line}; CPU {shares_text(out['cpu'])}; {run.cpu_text()}", flush=True)
                services.stop(gateway)

    alone, abuse = results["alone"]["lat"], results["abuse"]["lat"]
    figure(
        BENCH,
        "customers' first answer p50/p99 alone",
        f"{alone.p50 * 1000:.1f} / {alone.p99 * 1000:.1f} ms (n={len(alone.values)})",
    )
    figure(
        BENCH,
        "customers' first answer p50/p99 with an abuser",
        f"{abuse.p50 * 1000:.1f} / {abuse.p99 * 1000:.1f} ms (n={len(abuse.values)})",
    )
    figure(
        BENCH,
        "customers' p99 with an abuser vs alone",
        f"{abuse.p99 * 1000:.1f} vs {alone.p99 * 1000:.1f} ms",
        ratio_text(abuse.p99, alone.p99, 2.0),
    )
    counts = results["abuse"]["abuse"]
    figure(
        BENCH,
        "abuser's messages accepted / rate_limited",
        f"{counts['accepted']} / {counts['rate_limited']} "
        f"({counts['accepted'] / args.seconds:.1f} accepted/s; "
        f"disconnected as a flood {counts['disconnected']} times)",
    )
    if "abuse, no limits" in results:
        free = results["abuse, no limits"]
        figure(
            BENCH,
            "customers' p99 with an unlimited abuser vs alone",
            f"{free['lat'].p99 * 1000:.1f} vs {alone.p99 * 1000:.1f} ms "
            f"(abuser: {free['abuse']['accepted']} accepted)",
            ratio_text(free["lat"].p99, alone.p99),
        )
    for name, r in results.items():
        if r["lat"].errors:
            print(f"   note: {r['lat'].errors} customer(s) failed in the {name} run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
