"""The pytest plugin: a real redis-server per session (and per test where it is killed), a fresh
namespace per test, and the `services` fixture that reaps its processes (and prints their logs when
the test failed).

A test marked `@pytest.mark.cluster` gets the session's 3-primary Redis Cluster instead (started on
first use): `redis_url`, `client` and `services` point at it. `sentinel_redis` is a Sentinel-managed
primary and replica of the test's own, to fail over.

Loaded with `-p nexus_testing.plugin` (root pyproject). No fakes: every test talks to redis-server.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from nexus_mesh.connection import connect, parse_url
from nexus_mesh.embedded import RedisServer
from nexus_protocol.streams import Names
from nexus_testing.archive import archive_url, pg_database, pg_server  # noqa: F401 (fixtures)
from nexus_testing.processes import Services
from nexus_testing.topologies import LocalCluster, LocalSentinel


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session; tests stay apart by namespace."""
    server = RedisServer(tmp_path_factory.mktemp("redis-session")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A 3-primary Redis Cluster for the session (tests marked `cluster`); tests stay apart by namespace."""
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def sentinel_redis(tmp_path: Path) -> Iterator[LocalSentinel]:
    """A primary, a replica and three sentinels of the test's own, to kill the primary."""
    deployment = LocalSentinel(tmp_path / "sentinel").start()
    yield deployment
    deployment.stop()


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
def redis_url(request: pytest.FixtureRequest) -> str:
    if request.node.get_closest_marker("cluster") is not None:
        cluster: LocalCluster = request.getfixturevalue("redis_cluster")
        return cluster.url
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    single = parse_url(redis_url).kind == "single"
    c = redis.Redis.from_url(redis_url) if single else connect(redis_url, retries=3)
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
