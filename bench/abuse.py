"""Abuse — abusive clients must not slow everybody else down.

50 ordinary customers (frontdesk's widget protocol, one conversation each, each from its own
loopback address 127.0.1.x) each send a message every 1-2 s for the measured window and time it
from `user_uttered` to the first `bot_uttered` of the answer. Runs, each against a fresh
gateway with its default limits (per connection and conversation, and per client address):

  alone          the ordinary customers only (the baseline);
  flood          the same, plus 20 connections from one address (127.0.0.2) each sending
                 `user_uttered` as fast as the gateway acknowledges (64 in flight each), each
                 reconnecting at once (in a new conversation) when the gateway closes it;
  reconnect      the same, plus one client (127.0.0.3) that closes and reopens its connection,
                 in a new conversation, every 8 messages to get fresh per-connection limits;
  flood, no limits  the flood with every limit off (RATE_LIMIT_PER_SECOND=0,
                 MAX_PENDING_TURNS=0), for contrast (skip with --no-contrast).

Figures: ordinary customers' p50/p99 per run, p99 under each abuse / alone (goal: within 2x),
and what the abusers got through (accepted, rate_limited, connections refused). A fast
stand-in bot answers every message (after --bot-ms); no Rasa is involved. By default the
gateway is pinned to CPU 0 and the generators to CPU 1; Redis and the stand-in bot are not.
Several client addresses on one machine: all of 127/8 is loopback on Linux, so each client
binds its socket to its own 127.x.y.z.

    .venv/bin/python bench/abuse.py [--customers 50] [--seconds 20] [--no-contrast] [--no-pin]
                                    [--quick]
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
QUICK_HELP = "5 customers, 2 s, no contrast run: checks that it runs (figures mean little)"
IN_FLIGHT = 64  # each flooding connection's unacknowledged messages at any time
FLOODERS = 20  # flooding connections from one address
FLOOD_ADDRESS = "127.0.0.2"
DODGER_ADDRESS = "127.0.0.3"
DODGE_EVERY = 8  # messages per connection of the client that reconnects to dodge limits
# The defaults (Services.gateway turns limits off for the other benches).
LIMITED = {"RATE_LIMIT_PER_SECOND": "2", "RATE_LIMIT_BURST": "8", "MAX_PENDING_TURNS": "10"}
UNLIMITED = {"RATE_LIMIT_PER_SECOND": "0", "MAX_PENDING_TURNS": "0"}


def customer_address(index: int) -> str:
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


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


async def _close(sio: Any) -> None:
    """Disconnect, and close the client's own HTTP session (bound to its address)."""
    with contextlib.suppress(Exception):
        await sio.disconnect()
    await sio.eio.http.close()


class Refused(Exception):
    """The gateway refused the connection (429) or a new conversation (rate_limited)."""


async def _session(url: str, address: str) -> tuple[Any, str, asyncio.Queue[tuple[str, Any]]]:
    """A widget connection from `address` with a new conversation."""
    import aiohttp
    import socketio

    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))
    sio = socketio.AsyncClient(reconnection=False, http_session=http)
    sio.on("bot_uttered", lambda data: events.put_nowait(("bot", data)))
    sio.on("bot_typing", lambda data: events.put_nowait(("typing", data)))
    sio.on("session_confirm", lambda data: events.put_nowait(("confirm", data)))
    try:
        await sio.connect(url, transports=["websocket"], wait_timeout=30)
    except socketio.exceptions.ConnectionError:
        await http.close()
        raise Refused() from None
    ack = await sio.call("session_request", {"frontdesk": 1}, timeout=30)
    if ack is not None:  # rate_limited: no new conversation
        await _close(sio)
        raise Refused()
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
            sio, session_id, events = await _session(url, customer_address(index))
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
            await _close(sio)

    tasks = [asyncio.create_task(one(i)) for i in range(count)]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    window = WindowCpu(pids)
    await asyncio.sleep(max(0.0, end_at - time.time()))
    shares = window.shares()
    await asyncio.gather(*tasks)
    return {"first": first.to_dict(), "refused": refused, "cpu": shares}


def _counts() -> dict[str, int]:
    return {"accepted": 0, "rate_limited": 0, "other": 0, "closed": 0, "refused": 0}


async def flood_load(url: str, start_at: float, seconds: float, connections: int) -> dict[str, int]:
    """`connections` connections from one address, each sending as fast as acknowledgements
    come back, IN_FLIGHT at a time; one the gateway closes reconnects at once in a new
    conversation (the most a flooder gets: fresh per-connection buckets each time). It shares
    the generators' core with the customers' process at a lower priority, so that its own CPU
    (an attacker's, on another machine in real life) delays theirs less."""
    os.nice(10)
    counts = _counts()
    end_at = start_at + seconds
    await asyncio.sleep(max(0.0, start_at - time.time()))
    n = 0

    async def flood() -> None:
        nonlocal n
        sio, session_id, _ = await _session(url, FLOOD_ADDRESS)
        closed = asyncio.Event()
        sio.on("disconnect", lambda *_: closed.set())

        async def sender() -> None:
            nonlocal n
            while time.time() < end_at and sio.connected:
                n += 1
                payload = {"message": f"spam {n}", "session_id": session_id}
                try:
                    ack = await sio.call("user_uttered", payload, timeout=10)
                except Exception:
                    return
                _count(counts, ack)

        senders = asyncio.gather(*(sender() for _ in range(IN_FLIGHT)))
        await asyncio.wait(
            [senders, asyncio.ensure_future(closed.wait())], return_when="FIRST_COMPLETED"
        )
        if closed.is_set():
            counts["closed"] += 1
        senders.cancel()
        with contextlib.suppress(BaseException):
            await senders
        await _close(sio)

    async def one() -> None:
        while time.time() < end_at:
            try:
                await flood()
            except Refused:
                counts["refused"] += 1
                await asyncio.sleep(0)
            except (TimeoutError, OSError, Exception):
                counts["other"] += 1

    await asyncio.gather(*(one() for _ in range(connections)))
    return counts


async def dodger_load(url: str, start_at: float, seconds: float) -> dict[str, int]:
    """One client that sends DODGE_EVERY messages as fast as they are acknowledged, then
    closes its connection and opens another, in a new conversation, over and over."""
    os.nice(10)
    counts = _counts()
    end_at = start_at + seconds
    await asyncio.sleep(max(0.0, start_at - time.time()))
    n = 0
    while time.time() < end_at:
        try:
            sio, session_id, _ = await _session(url, DODGER_ADDRESS)
        except Refused:
            counts["refused"] += 1
            await asyncio.sleep(0)
            continue
        except (TimeoutError, OSError, Exception):
            counts["other"] += 1
            continue
        try:
            for _ in range(DODGE_EVERY):
                n += 1
                payload = {"message": f"dodge {n}", "session_id": session_id}
                _count(counts, await sio.call("user_uttered", payload, timeout=10))
        except Exception:
            counts["other"] += 1
        finally:
            counts["closed"] += 1
            await _close(sio)
    return counts


def _count(counts: dict[str, int], ack: Any) -> None:
    if ack.get("ok"):
        counts["accepted"] += 1
    elif ack.get("error", {}).get("code") == "rate_limited":
        counts["rate_limited"] += 1
    else:
        counts["other"] += 1


async def generator(role: str, *args: Any) -> dict[str, Any]:
    if role == "customers":
        return await customers_load(*args)
    if role == "flood":
        return await flood_load(*args)
    return await dodger_load(*args)


# -- the bench ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per run")
    parser.add_argument("--bot-ms", type=float, default=20.0, help="the stand-in bot's delay")
    parser.add_argument("--no-contrast", action="store_true", help="skip the run without limits")
    parser.add_argument("--no-pin", action="store_true", help="do not pin gateway/generators")
    parser.add_argument("--stand-in-bot", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help=QUICK_HELP)
    args = parser.parse_args(argv)
    if args.stand_in_bot:
        stand_in_bot(args.stand_in_bot, args.bot_ms / 1000)
        return 0
    setup_seconds = SETUP_SECONDS
    if args.quick:  # does it still run? (tests/test_benches.py) — figures mean little
        args.customers, args.seconds, args.no_contrast, setup_seconds = 5, 2.0, True, 3.0

    cores = os.cpu_count() or 1
    pinning = not args.no_pin and cores >= 2
    server_cpu, gen_cpu = ({0}, {1}) if pinning else (None, None)
    print_header("bench/abuse.py — ordinary customers' latency with and without abusers")
    print(
        f"   {args.customers} customers (one address each), one message every 1-2 s each, "
        f"{args.seconds:.0f} s measured per run; stand-in bot answers after "
        f"{args.bot_ms:.0f} ms; "
        + ("gateway on CPU 0, generators on CPU 1" if pinning else "no pinning"),
        flush=True,
    )
    runs = [("alone", LIMITED, None), ("flood", LIMITED, "flood"), ("reconnect", LIMITED, "dodge")]
    if not args.no_contrast:
        runs.append(("flood, no limits", UNLIMITED, "flood"))
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
            for name, limits, abuse_kind in runs:
                url, gateway = services.gateway(
                    redis_url, bot_url, name=name.replace(", ", "-"), cpus=server_cpu, **limits
                )
                pids = {"gateway": gateway.pid, "redis": redis.pid, "bot": bot.pid}
                start_at = time.time() + setup_seconds
                jobs: list[tuple[Any, ...]] = [
                    ("customers", url, args.customers, start_at, args.seconds, pids)
                ]
                if abuse_kind == "flood":
                    jobs.append(("flood", url, start_at, args.seconds, FLOODERS))
                elif abuse_kind == "dodge":
                    jobs.append(("dodge", url, start_at, args.seconds))
                run = run_generators(generator, jobs, gen_cpu)
                out = run.results[0]
                lat = Latencies.from_dict(out["first"])
                abuse = run.results[1] if abuse_kind else None
                results[name] = {"lat": lat, "refused": out["refused"], "abuse": abuse}
                line = f"   {name:<16} customers: {lat.text()}"
                if out["refused"]:
                    line += f", {out['refused']} of theirs refused"
                if abuse:
                    line += f"; abuser: {_abuse_text(abuse, args.seconds)}"
                print(f"{line}; CPU {shares_text(out['cpu'])}; {run.cpu_text()}", flush=True)
                services.stop(gateway)

    alone = results["alone"]["lat"]
    figure(
        BENCH,
        "customers' first answer p50/p99 alone",
        f"{alone.p50 * 1000:.1f} / {alone.p99 * 1000:.1f} ms (n={len(alone.values)})",
    )
    cases = {
        "flood": f"{FLOODERS} flooding connections from one address",
        "reconnect": f"a client reconnecting every {DODGE_EVERY} messages",
    }
    for name, case in cases.items():
        lat, counts = results[name]["lat"], results[name]["abuse"]
        figure(
            BENCH,
            f"customers' p50/p99 under {case}",
            f"{lat.p50 * 1000:.1f} / {lat.p99 * 1000:.1f} ms (n={len(lat.values)})",
        )
        figure(
            BENCH,
            f"customers' p99 under {case} vs alone",
            f"{lat.p99 * 1000:.1f} vs {alone.p99 * 1000:.1f} ms",
            ratio_text(lat.p99, alone.p99, 2.0),
        )
        figure(BENCH, f"what {case} got through", _abuse_text(counts, args.seconds))
    if "flood, no limits" in results:
        free = results["flood, no limits"]
        figure(
            BENCH,
            "customers' p99 under an unlimited flood vs alone",
            f"{free['lat'].p99 * 1000:.1f} vs {alone.p99 * 1000:.1f} ms "
            f"(flood: {free['abuse']['accepted']} accepted)",
            ratio_text(free["lat"].p99, alone.p99),
        )
    for name, r in results.items():
        if r["lat"].errors:
            print(f"   note: {r['lat'].errors} customer(s) failed in the {name} run")
    return 0


def _abuse_text(counts: dict[str, int], seconds: float) -> str:
    sent = counts["accepted"] + counts["rate_limited"]
    return (
        f"{sent / seconds:.0f} messages/s sent, {counts['accepted']} accepted "
        f"({counts['accepted'] / seconds:.1f}/s), {counts['rate_limited']} rate_limited; "
        f"connections closed {counts['closed']}, refused {counts['refused']}"
        + (f", {counts['other']} other errors" if counts["other"] else "")
    )


if __name__ == "__main__":
    sys.exit(main())
