"""Pytest fixtures for the mesh: a real redis-server per session (and per test where it is killed),
a fresh namespace per test, and service processes that are started, SIGKILLed and reaped.

Loaded with `-p nexus_mesh.testing` (root pyproject). No fakes: every test talks to redis-server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis

from nexus_mesh.connection import as_bytes
from nexus_mesh.embedded import RedisServer, free_port
from nexus_protocol.codec import Envelope, decode, encode, unpack
from nexus_protocol.messages import Heartbeat, Message
from nexus_protocol.streams import Names

REPO_ROOT = Path(__file__).resolve().parents[4]


def wait_for(
    predicate: Callable[[], Any], timeout_s: float = 10.0, interval_s: float = 0.02, what: str = "condition"
) -> Any:
    """Poll until `predicate()` is truthy; returns its value or fails the test naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def xadd(client: redis.Redis, stream: str, env: Envelope[Any]) -> str:
    return str(client.xadd(stream, encode(env)).decode())  # type: ignore[arg-type,union-attr]


def secured_redis(
    tmp_path: Path,
    names: Names,
    password: Callable[[str], str],
    cert_users: Sequence[str],
    timeout_s: float = 120,
) -> tuple[RedisServer, int, Path]:
    """A redis-server as deploy/redis configures it: the mesh's ACL users (passwords from `password`,
    plus `admin`/`admin-pw` for the test's own eyes) and the TLS port from tls.conf, with certificates
    from make-certs.sh for `cert_users`. Returns the server, its TLS port and the certificates folder;
    the caller stops the server."""
    from nexus_mesh.ops import acl

    users = acl.mesh_users(names, acl.all_venues(REPO_ROOT / "deploy" / "config"))
    text = (
        acl.render(users, {u.name: password(u.name) for u in users}) + "user admin on >admin-pw ~* &* +@all\n"
    )
    (tmp_path / "users.acl").write_text(text)
    certs = tmp_path / "tls"
    make_certs = REPO_ROOT / "deploy" / "redis" / "make-certs.sh"
    subprocess.run(
        [str(make_certs), str(certs), "DNS:localhost,IP:127.0.0.1", *cert_users],
        check=True, capture_output=True, timeout=timeout_s,
    )  # fmt: skip
    tls_port = free_port()
    conf = (REPO_ROOT / "deploy" / "redis" / "tls.conf").read_text()
    conf = conf.replace("/usr/local/etc/redis/tls", str(certs)).replace(
        "tls-port 6380", f"tls-port {tls_port}"
    )
    (tmp_path / "tls.conf").write_text(conf)
    server = RedisServer(
        tmp_path / "redis",
        extra_args=("--aclfile", str(tmp_path / "users.acl"), "--include", str(tmp_path / "tls.conf")),
    ).start()
    return server, tls_port, certs


def venue_connected(client: redis.Redis, names: Names, venue: str) -> bool:
    """The adapter's venue heartbeat says its platform link is up (what the router checks)."""
    raw = client.get(names.control("venue", venue))
    hb = unpack(as_bytes(raw)) if raw is not None else None
    return isinstance(hb, Heartbeat) and bool(hb.venue_connected)


def read_stream(client: redis.Redis, stream: str) -> list[Envelope[Message]]:
    return [decode(fields or {}) for _id, fields in client.xrange(stream) or []]


class ServiceProcess:
    """A service started as `python -m module`, with its stderr in a log file."""

    def __init__(
        self, name: str, module: str, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.module = module
        self.env = env
        self.args = args
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def sigkill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def terminate(self, timeout_s: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def restart(self) -> ServiceProcess:
        self.sigkill()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Services:
    """Starts service processes for one test and reaps them all at teardown."""

    def __init__(self, redis_url: str, namespace: str, tmp: Path) -> None:
        self.redis_url = redis_url
        self.namespace = namespace
        self.tmp = tmp
        self.started: list[ServiceProcess] = []

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
        env.update(
            NX_REDIS_URL=self.redis_url,
            NX_NAMESPACE=self.namespace,
            NX_DATA_DIR=str(self.tmp / "data"),
            NX_CONFIG_DIR=str(REPO_ROOT / "deploy" / "config"),
            NX_BLOCK_MS="200",
            PYTHONUNBUFFERED="1",
        )
        env.update(overrides)
        return env

    def start(self, module: str, *args: str, name: str | None = None, **env: str) -> ServiceProcess:
        name = name or f"{module.rsplit('.', 1)[-1]}-{len(self.started)}"
        env.setdefault("NX_CONSUMER", name)
        sp = ServiceProcess(name, module, self.env(**env), self.tmp / f"{name}.log", args).start()
        self.started.append(sp)
        return sp

    def stop_all(self) -> None:
        for sp in self.started:
            if sp.alive():
                sp.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + 10
        for sp in self.started:
            if sp.proc is not None:
                try:
                    sp.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    sp.sigkill()

    def logs(self) -> str:
        return "\n".join(f"===== {sp.name} =====\n{sp.log()[-4000:]}" for sp in self.started)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session; tests stay apart by namespace."""
    server = RedisServer(tmp_path_factory.mktemp("redis-session")).start()
    yield server
    server.stop()


@pytest.fixture
def restartable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own (AOF fsync always), to kill and restart."""
    server = RedisServer(tmp_path / "redis", appendfsync="always").start()
    yield server
    server.stop()


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def names(namespace: str) -> Names:
    return Names(namespace)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def services(
    redis_url: str, namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Services]:
    s = Services(redis_url, namespace, tmp_path)
    yield s
    s.stop_all()
    rep: Any = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(s.logs())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep
