"""The dev mesh in containers (docker-compose.yml + deploy/compose.dev.yml, whatever they define), built
here without a registry: every container healthy; signals from the host through the client API come back
as final executions; `nexusctl status` is healthy; the router, the fills stage, an adapter and Redis are
killed mid-flow and every signal still gets exactly one final execution, with no order sent twice;
`docker-compose down` then `up` resumes on the data Redis kept in its volume, and comes up with two
normalizers (`--scale normalizer=2`), which share the work. One mesh for the module, in this order, with
a test run's limits (stack.RUN_LIMITS). An adapter service scaled to one account per instance runs in the
secure stack, under its own ACL user (test_secure_monitoring.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
import redis
from flow import check_exactly_once, finals, links_up, send, wait_finished
from stack import DEV, Stack

from nexus_bridge import NexusGatewayInterface
from nexus_protocol import Names
from nexus_testing import venue_connected, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1500)]
NAMES = Names("nx")
NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dev(make_stack: Callable[..., Stack], docker_client: docker.DockerClient) -> Stack:
    stack = make_stack(*DEV)
    stack.up()
    stack.wait_healthy(docker_client)
    return stack


@pytest.fixture
def client(dev: Stack) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(dev.url())
    yield c
    c.close()


def adapters(stack: Stack) -> dict[str, str]:
    """The services that serve a venue (NX_VENUE), whatever compose.dev.yml runs, and their venues."""
    resolved = stack.resolved()
    return {
        n: s["environment"]["NX_VENUE"]
        for n, s in sorted(resolved["services"].items())
        if "NX_VENUE" in (s.get("environment") or {})
    }


def venues_up(client: redis.Redis, stack: Stack) -> None:
    links_up(client, NAMES, list(adapters(stack).values()))


def test_every_service_of_the_dev_files_runs_healthy(dev: Stack, docker_client: docker.DockerClient) -> None:
    states = dev.wait_healthy(docker_client, timeout_s=30)
    running = {c.labels["com.docker.compose.service"] for c in dev.containers(docker_client)}
    assert running == set(dev.services)
    assert {"redis", "router", "normalizer", "fx", "rollover", "fills", "nexus-bridge"} <= running
    assert adapters(dev), "compose.dev.yml runs no venue"
    with_health = [n for n, s in states.items() if s == "healthy"]
    assert len(with_health) == len(states), states  # every image has a healthcheck


def test_signals_from_the_host_through_the_client_api_come_back_final(
    dev: Stack, client: redis.Redis
) -> None:
    venues_up(client, dev)
    gw = NexusGatewayInterface(dev.url(), namespace="nx", symbols=["NQ", "ES"])
    got: dict[str, dict[str, object]] = {}
    gw.set_execution_callback(lambda ex: got.__setitem__(ex["signal_id"], ex) if ex["final"] else None)
    gw.connect(timeout_s=20)
    gw.start_listening()
    try:
        sids = [gw.send_signal(symbol, "BUY", 0.9, 1) for symbol in ("NQ", "ES")]
        wait_for(
            lambda: all(s in got for s in sids), timeout_s=60, what="both final executions at the client"
        )
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
    """Signals go in every half second; each victim is killed once the mesh answers a signal sent
    since the last one came back (so it dies mid-flow, never while still recovering), then started."""
    venues_up(client, dev)
    adapter, venue = next(iter(adapters(dev).items()))
    victims = ["router", "fills", adapter]
    sids: list[str] = []
    stop = threading.Event()

    def keep_sending() -> None:
        while not stop.is_set():
            sids.extend(send(client, NAMES, 1, side="buy" if len(sids) % 2 == 0 else "sell"))
            stop.wait(0.5)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        for victim in [*victims, None]:
            _answering(client, sids)
            for c in dev.containers(docker_client, victim) if victim else []:
                c.kill()
                c.wait(condition="not-running", timeout=60)
                dev.compose("start", victim)
    finally:
        stop.set()
        sender.join()
    wait_finished(client, NAMES, sids, timeout_s=120)
    check_exactly_once(client, NAMES, sids, stale_ok=True, down=venue)
    venues_up(client, dev)  # the adapter's link back, for the next test


def _answering(client: redis.Redis, sids: list[str], timeout_s: float = 120.0) -> None:
    """A signal sent from now on has its final execution."""
    first = len(sids)
    wait_for(
        lambda: len(sids) > first and sids[first] in finals(client, NAMES),
        timeout_s=timeout_s,
        interval_s=0.25,
        what="the mesh answering again",
    )


def test_redis_killed_and_restarted_from_its_volume(
    dev: Stack, client: redis.Redis, docker_client: docker.DockerClient
) -> None:
    venues_up(client, dev)
    before = send(client, NAMES, 6)
    wait_finished(client, NAMES, before)
    venues = {leg.venue for s in before for leg in finals(client, NAMES)[s][0].legs}
    seen = len(finals(client, NAMES))
    for c in dev.containers(docker_client, "redis"):
        c.kill()
    dev.compose("start", "redis")
    wait_for(lambda: _pings(client), timeout_s=30, what="redis back")
    assert len(finals(client, NAMES)) == seen, "executions lost with the restart"
    # as an operator would: the venues' adapters back (a leg to a venue without its link is refused)
    wait_for(lambda: all(venue_connected(client, NAMES, v) for v in venues), timeout_s=60, what="venues back")
    after = send(client, NAMES, 6)
    wait_finished(client, NAMES, after, timeout_s=120)
    check_exactly_once(client, NAMES, before + after)


def test_down_then_up_resumes_with_the_data_intact(
    dev: Stack, client: redis.Redis, docker_client: docker.DockerClient
) -> None:
    """Down, and up again with two normalizers (the next test's): the data are the volume's."""
    first = send(client, NAMES, 4)
    wait_finished(client, NAMES, first)
    executions = client.xlen(NAMES.executions)
    dev.down()
    assert not dev.containers(docker_client)
    dev.prepare(replicated=("normalizer",))
    dev.up("--scale", "normalizer=2")
    dev.wait_healthy(docker_client)
    assert client.xlen(NAMES.executions) == executions
    venues_up(client, dev)
    more = send(client, NAMES, 4)
    wait_finished(client, NAMES, more, timeout_s=120)
    check_exactly_once(client, NAMES, first + more)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_two_normalizers_share_the_work_with_no_order_twice(
    dev: Stack, client: redis.Redis, docker_client: docker.DockerClient
) -> None:
    if len(dev.containers(docker_client, "normalizer")) != 2:  # run alone, without the previous test
        dev.prepare(replicated=("normalizer",))
        dev.up("--scale", "normalizer=2")
        dev.wait_healthy(docker_client)
    venues_up(client, dev)
    replicas = {c.id[:12] for c in dev.containers(docker_client, "normalizer")}
    assert len(replicas) == 2
    sids = send(client, NAMES, 10)
    wait_finished(client, NAMES, sids, timeout_s=120)
    consumers = {
        _text(c["name"]).split("-")[0]
        for g in client.xinfo_groups(NAMES.orders_routed)
        for c in client.xinfo_consumers(NAMES.orders_routed, g["name"])
    }
    assert replicas <= consumers, (replicas, consumers)  # each replica its own consumer, named after it
    check_exactly_once(client, NAMES, sids)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
