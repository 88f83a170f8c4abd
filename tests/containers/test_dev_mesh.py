"""The dev mesh in containers (docker-compose.yml + deploy/compose.dev.yml, whatever they define), built
here without a registry: every container healthy; signals from the host through the client API come back
as final executions; `nexusctl status` is healthy; the router, the fills stage, an adapter and Redis are
killed mid-flow and every signal still gets exactly one final execution, with no order sent twice;
`docker-compose down` then `up` resumes on the data Redis kept in its volume."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
import redis
from flow import check_exactly_once, finals, send, wait_finished
from stack import Stack

from nexus_bridge import NexusGatewayInterface
from nexus_testing import wait_for
from nexus_protocol import Names

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]
NAMES = Names("nx")
NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")


@pytest.fixture(scope="module")
def dev(make_stack: Callable[..., Stack], docker_client: docker.DockerClient) -> Iterator[Stack]:
    stack = make_stack("docker-compose.yml", "deploy/compose.dev.yml")
    stack.up()
    stack.wait_healthy(docker_client)
    yield stack


@pytest.fixture
def client(dev: Stack) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(dev.url())
    yield c
    c.close()


def adapters(stack: Stack) -> list[str]:
    """The services that serve a venue (NX_VENUE), whatever compose.dev.yml runs."""
    resolved = stack.resolved()
    return sorted(n for n, s in resolved["services"].items() if "NX_VENUE" in (s.get("environment") or {}))


def test_every_service_of_the_dev_files_runs_healthy(dev: Stack, docker_client: docker.DockerClient) -> None:
    states = dev.wait_healthy(docker_client, timeout_s=30)
    running = {c.labels["com.docker.compose.service"] for c in dev.containers(docker_client)}
    assert running == set(dev.services)
    assert {"redis", "router", "normalizer", "fx", "rollover", "fills", "nexus-bridge"} <= running
    assert adapters(dev), "compose.dev.yml runs no venue"
    with_health = [n for n, s in states.items() if s == "healthy"]
    assert len(with_health) == len(states), states  # every image has a healthcheck


def test_signals_from_the_host_through_the_client_api_come_back_final(dev: Stack) -> None:
    gw = NexusGatewayInterface(dev.url(), namespace="nx", symbols=["NQ", "ES"])
    got: dict[str, dict[str, object]] = {}
    gw.set_execution_callback(lambda ex: got.__setitem__(ex["signal_id"], ex) if ex["final"] else None)
    gw.connect(timeout_s=20)
    gw.start_listening()
    try:
        sids = [gw.send_signal(symbol, "BUY", 0.9, 1) for symbol in ("NQ", "ES")]
        wait_for(lambda: all(s in got for s in sids), timeout_s=60, what="both final executions at the client")
    finally:
        gw.stop()
    assert all(got[s]["status"] == "filled" for s in sids), got


def test_nexusctl_status_against_the_containers_is_healthy(dev: Stack) -> None:
    out = subprocess.run(
        [NEXUSCTL, "status", "--json", "--env", "dev"],
        env={"NX_REDIS_URL": dev.url(), "PATH": "/usr/bin:/bin"},
        cwd=dev.root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    status = json.loads(out.stdout)
    assert out.returncode == 0 and status["healthy"], status.get("problems")
    seen = {s["service"] for s in status["services"]}
    assert {"router", "normalizer", "fx", "rollover", "fills", "nexus-bridge"} <= seen
    assert status["venues"] and all(v["connected"] for v in status["venues"])


def test_router_fills_and_an_adapter_killed_mid_flow(
    dev: Stack, client: redis.Redis, docker_client: docker.DockerClient
) -> None:
    victims = ["router", "fills", adapters(dev)[0]]
    sids: list[str] = []
    stop = threading.Event()

    def keep_sending() -> None:
        while not stop.is_set():
            sids.extend(send(client, NAMES, 2))
            time.sleep(0.2)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        for victim in victims:
            time.sleep(1.5)
            for c in dev.containers(docker_client, victim):
                c.kill()
            time.sleep(1.0)
            dev.compose("start", victim)
        time.sleep(1.0)
    finally:
        stop.set()
        sender.join()
    wait_finished(client, NAMES, sids, timeout_s=120)
    check_exactly_once(client, NAMES, sids, stale_ok=True)


def test_redis_killed_and_restarted_from_its_volume(
    dev: Stack, client: redis.Redis, docker_client: docker.DockerClient
) -> None:
    before = send(client, NAMES, 6)
    wait_finished(client, NAMES, before)
    seen = len(finals(client, NAMES))
    for c in dev.containers(docker_client, "redis"):
        c.kill()
    dev.compose("start", "redis")
    wait_for(lambda: _pings(client), timeout_s=30, what="redis back")
    assert len(finals(client, NAMES)) == seen, "executions lost with the restart"
    after = send(client, NAMES, 6)
    wait_finished(client, NAMES, after, timeout_s=120)
    check_exactly_once(client, NAMES, before + after)


def test_down_then_up_resumes_with_the_data_intact(
    dev: Stack, client: redis.Redis, docker_client: docker.DockerClient
) -> None:
    first = send(client, NAMES, 4)
    wait_finished(client, NAMES, first)
    executions = client.xlen(NAMES.executions)
    dev.down()
    assert not dev.containers(docker_client)
    dev.up()
    dev.wait_healthy(docker_client)
    assert client.xlen(NAMES.executions) == executions
    more = send(client, NAMES, 4)
    wait_finished(client, NAMES, more, timeout_s=120)
    check_exactly_once(client, NAMES, first + more)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
