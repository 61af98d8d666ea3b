"""The supported topology on one machine, on loopback: nginx in front of several gateway processes
(SOCKETIO_REDIS=on), several Rasa processes on a shared tracker and lock store, a Redis primary
and replica watched by three sentinels. `make cluster` runs it; tests and benches drive it:

    with Cluster(tmp_path) as cluster:           # start() ... stop()
        cluster.url                              # nginx: http://127.0.0.1:PORT
        cluster.gateway_urls, cluster.rasa_urls  # each process directly
        cluster.kill("gateway-2")                # kill -9 (its process group)
        cluster.restart("gateway-2")             # start again, wait until it answers
        old = cluster.primary()                  # "redis-1": the sentinels' primary now
        cluster.kill(old); cluster.wait_failover(old)

Every method blocks (subprocesses and polling); from asyncio call it through
asyncio.to_thread. Nothing here is imported by the product.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import redis

from frontdesk.botmodel import BOT_DIR, ensure_model
from frontdesk.cluster.configs import MASTER, NginxLimits, nginx_conf, redis_conf, sentinel_conf
from frontdesk.cluster.process import Child, ClusterError
from frontdesk.cluster.ready import (
    Ports,
    answers,
    port_taken,
    rasa_ready,
    redis_client,
    redis_ready,
    sentinel_ready,
)
from frontdesk.config import ROOT
from frontdesk.supervisor import LOCK_LIFETIME, RasaProcess

ENDPOINTS = BOT_DIR / "endpoints.sentinel.yml"
RASA_START = 600.0  # seconds for a Rasa to load its model (two at once on 2 busy cores)
GATEWAY_START = 60.0
REDIS_START = 30.0
SENTINELS_AGREE = 60.0  # seconds for the sentinels to find the replica and each other
STOP_GRACE = 15.0


class Cluster:
    """The whole topology as child processes, by name: nginx, gateway-N, rasa-N, redis-N,
    sentinel-N. Ports and PIDs are exposed; any part can be killed and restarted."""

    def __init__(
        self,
        directory: Path,
        ports: Ports | None = None,
        *,
        gateways: int = 3,
        rasa: int = 2,
        rasa_urls: Sequence[str] = (),
        gateway_env: Mapping[str, str] | None = None,
        nginx_limits: NginxLimits | None = None,
        model: Path | None = None,
        gateway_command: Sequence[str] = (),
    ) -> None:
        """rasa_urls: use these Rasa servers instead of starting `rasa` of our own.
        gateway_command: what runs server.py (default this Python; a bench's meter)."""
        self.directory = directory.resolve()
        self.ports = ports or Ports.free(gateways, 0 if rasa_urls else rasa)
        self._external_rasa = tuple(u.rstrip("/") for u in rasa_urls)
        self._gateway_env = dict(gateway_env or {})
        self._limits = nginx_limits or NginxLimits()
        self._model = model
        self._gateway_command = list(gateway_command) or [sys.executable]
        self.children: dict[str, Child] = {}
        self._started = False

    # --- where things are ----------------------------------------------------------------
    @property
    def url(self) -> str:
        """The public entry: nginx."""
        return f"http://127.0.0.1:{self.ports.nginx}"

    @property
    def gateway_names(self) -> list[str]:
        return [f"gateway-{i + 1}" for i in range(len(self.ports.gateways))]

    @property
    def gateway_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports.gateways]

    @property
    def rasa_names(self) -> list[str]:
        return [f"rasa-{i + 1}" for i in range(len(self.ports.rasa))]

    @property
    def rasa_urls(self) -> list[str]:
        return list(self._external_rasa) or [f"http://127.0.0.1:{p}" for p in self.ports.rasa]

    @property
    def redis_names(self) -> list[str]:
        return [f"redis-{i + 1}" for i in range(len(self.ports.redis))]

    @property
    def sentinel_names(self) -> list[str]:
        return [f"sentinel-{i + 1}" for i in range(len(self.ports.sentinels))]

    @property
    def sentinels(self) -> str:
        """REDIS_SENTINELS: host:port,host:port,…"""
        return ",".join(f"127.0.0.1:{p}" for p in self.ports.sentinels)

    @property
    def secret_key(self) -> str:
        """The gateways' SECRET_KEY (tests sign agents' console tokens with it)."""
        return (self.directory / "secret.key").read_text().strip()

    def redis_env(self) -> dict[str, str]:
        """What a gateway, a CLI or a Rasa needs to find Redis."""
        return {"REDIS_SENTINELS": self.sentinels, "REDIS_SENTINEL_MASTER": MASTER}

    def pids(self) -> dict[str, int | None]:
        return {name: child.pid if child.running else None for name, child in self.children.items()}

    def port_of(self, name: str) -> int:
        kind, _, number = name.rpartition("-")
        index = int(number) - 1
        ports = {
            "gateway": self.ports.gateways,
            "rasa": self.ports.rasa,
            "redis": self.ports.redis,
            "sentinel": self.ports.sentinels,
        }
        if name == "nginx":
            return self.ports.nginx
        if kind not in ports or not 0 <= index < len(ports[kind]):
            raise KeyError(f"no part named {name!r}; parts: {', '.join(self.children)}")
        return ports[kind][index]

    def log_of(self, name: str) -> Path:
        return self._child(name).log_path

    # --- Redis and Sentinel ---------------------------------------------------------------
    def primary(self) -> str:
        """The Redis node the sentinels name primary now (asks each live sentinel in turn)."""
        for port in self.ports.sentinels:
            client = redis_client(port, 1.0)
            try:
                address = client.sentinel_get_master_addr_by_name(MASTER)
            except (redis.RedisError, OSError):
                continue
            finally:
                client.close()
            if isinstance(address, tuple | list) and address:
                return self.redis_names[self.ports.redis.index(int(address[1]))]
        raise ClusterError("no sentinel answers: the primary is unknown")

    def wait_failover(self, old: str, timeout: float = 60.0) -> float:
        """Seconds until every sentinel that answers names one primary other than `old`, up
        (what a client asking any of them needs), and that primary takes writes."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            now = self._agreed_primary()
            if now is not None and now != old:
                client = redis_client(self.port_of(now))
                try:
                    client.set("frontdesk:cluster:failover-probe", "1")
                    return time.monotonic() - started
                except (redis.RedisError, OSError):
                    pass
                finally:
                    client.close()
            time.sleep(0.1)
        raise ClusterError(f"the sentinels did not replace {old} in {timeout:.0f} s")

    def _agreed_primary(self) -> str | None:
        """The primary all answering sentinels name and see up; None while they differ."""
        named: set[int] = set()
        for port in self.ports.sentinels:
            client = redis_client(port, 1.0)
            try:
                state = client.sentinel_master(MASTER)
            except (redis.RedisError, OSError):
                continue
            finally:
                client.close()
            if not isinstance(state, dict) or state.get("is_sdown") or state.get("is_odown"):
                return None
            named.add(int(state["port"]))
        if len(named) != 1:
            return None
        return self.redis_names[self.ports.redis.index(named.pop())]

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start everything and wait until each part answers. Nothing is left running if a
        part fails to start."""
        taken = [p for p in self.ports.all() if port_taken(p)]
        if taken:
            raise ClusterError(f"port(s) {', '.join(map(str, taken))} already in use")
        self._prepare()
        atexit.register(self.stop)
        self._started = True
        try:
            redis_nodes = self.redis_names
            self._start_now(redis_nodes[0])
            self._start_now(*redis_nodes[1:])
            self._start_now(*self.sentinel_names)
            for name in self.rasa_names:  # the slow part starts first, in parallel
                self.children[name].spawn()
            self._start_now(*self.gateway_names, *(["nginx"] if "nginx" in self.children else []))
            self._wait(*self.rasa_names)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every part (nginx first, Redis last), each by its PID; SIGKILL whatever does
        not stop in time. Raises ClusterError naming any process still alive after."""
        if not self._started:
            return
        self._started = False
        atexit.unregister(self.stop)
        tiers = [
            ["nginx"],
            [*self.gateway_names, *self.rasa_names],
            self.sentinel_names,
            self.redis_names,
        ]
        for tier in tiers:
            present = [self.children[n] for n in tier if n in self.children]
            with ThreadPoolExecutor(max(1, len(present))) as pool:
                list(pool.map(lambda child: child.stop(STOP_GRACE), present))
        left = self.leftovers()
        if left:
            raise ClusterError(f"still running after stop: {', '.join(left)}")

    def leftovers(self) -> list[str]:
        """Parts with a process left (their process group is not empty)."""
        return [name for name, child in self.children.items() if child.group_alive()]

    def kill(self, name: str) -> None:
        """kill -9 the part (and its process group): a crash, nothing cleaned up."""
        self._child(name).kill()

    def stop_part(self, name: str) -> None:
        """Stop the part the polite way (SIGTERM; nginx: SIGQUIT)."""
        self._child(name).stop(STOP_GRACE)

    def start_part(self, name: str, wait: bool = True) -> float:
        """Start a stopped or killed part again; the seconds until it answered (0 without
        waiting)."""
        child = self._child(name)
        child.spawn()
        return child.wait_ready() if wait else 0.0

    def restart(self, name: str) -> float:
        """Kill (if running) and start again; the seconds until it answers."""
        child = self._child(name)
        if child.running:
            child.kill()
        return self.start_part(name)

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def describe(self) -> Iterator[str]:
        """One line per part: name, port, PID, log."""
        for name, child in self.children.items():
            pid = child.pid if child.running else "-"
            port = self.port_of(name) if name != "nginx" else self.ports.nginx
            yield f"  {name:<11} 127.0.0.1:{port:<6} pid {pid!s:<8} log {child.log_path}"

    # --- internals ------------------------------------------------------------------------
    def _child(self, name: str) -> Child:
        try:
            return self.children[name]
        except KeyError:
            raise KeyError(f"no part named {name!r}; parts: {', '.join(self.children)}") from None

    def _start_now(self, *names: str) -> None:
        for name in names:
            self.children[name].spawn()
        self._wait(*names)

    def _wait(self, *names: str) -> None:
        for name in names:
            self.children[name].wait_ready()

    def _prepare(self) -> None:
        """Directories, configuration files and the children (not started)."""
        logs = self.directory / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.children = {}
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise ClusterError("redis-server is not installed: `make system-deps` installs it")
        primary = self.ports.redis[0]
        for index, (name, port) in enumerate(zip(self.redis_names, self.ports.redis, strict=True)):
            node = self.directory / name
            node.mkdir(exist_ok=True)
            conf = node / "redis.conf"
            conf.write_text(redis_conf(node, port, None if index == 0 else primary))
            self.children[name] = Child(
                name,
                [redis_server, str(conf)],
                logs / f"{name}.log",
                redis_ready(port, replica=index > 0),
                start_timeout=REDIS_START,
            )
        for name, port in zip(self.sentinel_names, self.ports.sentinels, strict=True):
            node = self.directory / name
            node.mkdir(exist_ok=True)
            conf = node / "sentinel.conf"
            conf.write_text(sentinel_conf(node, port, primary))
            replicas, sentinels = len(self.ports.redis) - 1, len(self.ports.sentinels)
            self.children[name] = Child(
                name,
                [redis_server, str(conf), "--sentinel"],
                logs / f"{name}.log",
                sentinel_ready(port, replicas, sentinels),
                start_timeout=SENTINELS_AGREE,
            )
        if not self._external_rasa:
            model = self._model or ensure_model(quiet=True)
            for name, port in zip(self.rasa_names, self.ports.rasa, strict=True):
                rasa = RasaProcess(model, port, endpoints=ENDPOINTS)
                self.children[name] = Child(
                    name,
                    rasa.command(),
                    logs / f"{name}.log",
                    rasa_ready(rasa.url),
                    cwd=BOT_DIR,
                    env={
                        "RASA_TELEMETRY_ENABLED": "false",
                        "TF_CPP_MIN_LOG_LEVEL": "2",
                        "TICKET_LOCK_LIFETIME": LOCK_LIFETIME,  # a killed Rasa's lock
                        **self.redis_env(),
                    },
                    start_timeout=RASA_START,
                )
        env = self._gateway_environment()
        for name, port, url in zip(
            self.gateway_names, self.ports.gateways, self.gateway_urls, strict=True
        ):
            self.children[name] = Child(
                name,
                [*self._gateway_command, str(ROOT / "server.py"), "gateway"],
                logs / f"{name}.log",
                answers(f"{url}/healthz"),
                cwd=ROOT,
                env={**env, "PORT": str(port)},
                start_timeout=GATEWAY_START,
            )
        if self.ports.gateways:
            self._prepare_nginx(logs)

    def _prepare_nginx(self, logs: Path) -> None:
        prefix = self.directory / "nginx"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        conf.write_text(
            nginx_conf(prefix, self.ports.nginx, list(self.ports.gateways), self._limits)
        )
        nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
        if nginx is None:
            raise ClusterError("nginx is not installed: `make system-deps` installs it")
        self.children["nginx"] = Child(
            "nginx",
            [
                nginx,
                "-p",
                str(prefix),
                "-c",
                str(conf),
                "-e",
                str(prefix / "error.log"),
                "-g",
                "daemon off;",
            ],
            logs / "nginx.log",
            answers(f"{self.url}/healthz"),
            stop_signal=signal.SIGQUIT,
        )

    def _gateway_environment(self) -> dict[str, str]:
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        # One secret for all: a token signed by one process is read by the others.
        key_file = self.directory / "secret.key"
        if not key_file.is_file():
            key_file.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
            key_file.chmod(0o600)
        return {
            "HOST": "127.0.0.1",
            "REDIS_URL": "",
            **self.redis_env(),
            "RASA_URL": ",".join(self.rasa_urls),
            "SOCKETIO_REDIS": "on",
            "DATA_DIR": str(data),
            "SECRET_KEY": key_file.read_text().strip(),
            "TRUSTED_PROXIES": "127.0.0.1/32",
            "PUBLIC_URL": self.url,
            **self._gateway_env,
        }
