"""The StreamProcessor's guarantees, each shown with real relay processes and a real redis-server."""

from __future__ import annotations

import subprocess
import time

import pytest
import redis

from nexus_mesh.embedded import RedisServer
from nexus_protocol import Envelope, Event, Names
from nexus_protocol.messages import DeadLetter
from nexus_testing import Services, read_stream, wait_for, xadd


def ev(i: int, prefix: str = "m") -> Envelope[Event]:
    return Envelope.new(Event(kind="test", source="test", message=f"n{i}"), id=f"{prefix}{i:05d}")


def relay_ids(client: redis.Redis, names: Names) -> list[str]:
    return [e.id for e in read_stream(client, names.stream("relay:out"))]


def feed(client: redis.Redis, names: Names, n: int, prefix: str = "m") -> list[str]:
    for i in range(n):
        xadd(client, names.stream("relay:in"), ev(i, prefix))
    return [f"{prefix}{i:05d}>relay" for i in range(n)]


def pending(client: redis.Redis, names: Names, group: str = "relay") -> int:
    try:
        return int(client.xpending(names.stream("relay:in"), group)["pending"])
    except redis.ResponseError:
        return -1


def test_sigkill_between_publish_and_ack_outputs_each_once(
    client: redis.Redis, names: Names, services: Services
) -> None:
    expected = feed(client, names, 50)
    first = services.start("nexus_mesh.relay", NX_FAULT_KILL_AT="after_publish", NX_BATCH_SIZE="20")
    first.proc.wait(20)  # type: ignore[union-attr]
    assert first.proc.returncode == -9  # type: ignore[union-attr]
    assert pending(client, names) > 0  # published, never acknowledged
    published_before_restart = len(relay_ids(client, names))
    assert published_before_restart > 0
    services.start(
        "nexus_mesh.relay", NX_BATCH_SIZE="20", NX_CONSUMER=first.name
    )  # same consumer: own pending first
    wait_for(
        lambda: len(relay_ids(client, names)) >= 50 and pending(client, names) == 0, what="relay to finish"
    )
    assert relay_ids(client, names) == expected


def test_killed_consumer_pending_taken_over_after_idle(
    client: redis.Redis, names: Names, services: Services
) -> None:
    expected = feed(client, names, 30)
    dead = services.start("nexus_mesh.relay", NX_FAULT_KILL_AT="after_read", NX_BATCH_SIZE="10")
    dead.proc.wait(20)  # type: ignore[union-attr]
    assert pending(client, names) == 10  # read by the dead consumer, nothing published
    other = services.start("nexus_mesh.relay", NX_CLAIM_IDLE_MS="500", NX_BATCH_SIZE="10")
    wait_for(lambda: pending(client, names) == 0 and len(relay_ids(client, names)) == 30, what="takeover")
    assert sorted(relay_ids(client, names)) == expected
    assert "claimed 10 idle entries" in other.log()


def test_garbage_entry_dead_lettered_processor_goes_on(
    client: redis.Redis, names: Names, services: Services
) -> None:
    services.start("nexus_mesh.relay")
    xadd(client, names.stream("relay:in"), ev(0))
    client.xadd(
        names.stream("relay:in"),
        {"type": "event", "v": "1", "id": "bad", "trace": "x", "ts": "1", "data": b"\xc1garbage"},
    )
    client.xadd(
        names.stream("relay:in"),
        {"type": "martian", "v": "1", "id": "m2", "trace": "x", "ts": "1", "data": b"\x80"},
    )
    client.xadd(names.stream("relay:in"), {"hello": "world"})
    xadd(client, names.stream("relay:in"), ev(4))
    wait_for(lambda: len(relay_ids(client, names)) == 2 and client.xlen(names.dlq) == 3, what="dead letters")
    letters = [e.body for e in read_stream(client, names.dlq)]
    assert all(isinstance(d, DeadLetter) for d in letters)
    reasons = [d.reason for d in letters]  # type: ignore[union-attr]
    assert "body is not msgpack" in reasons[0]
    assert "unknown message type 'martian'" in reasons[1]
    assert "missing header field" in reasons[2]
    assert letters[2].fields == {"hello": b"world"}  # type: ignore[union-attr]
    assert letters[0].stream == names.stream("relay:in")  # type: ignore[union-attr]
    assert pending(client, names) == 0


def test_handler_io_error_is_retried_then_dead_lettered_after_the_limit(
    client: redis.Redis, names: Names, services: Services
) -> None:
    proc = services.start("nexus_mesh.relay", NX_RELAY_FAIL_PREFIX="poison", NX_MAX_DELIVERIES="3")
    xadd(client, names.stream("relay:in"), ev(0))
    xadd(client, names.stream("relay:in"), ev(1, prefix="poison"))
    xadd(client, names.stream("relay:in"), ev(2))
    wait_for(lambda: client.xlen(names.dlq) == 1 and pending(client, names) == 0, what="poison dead-lettered")
    assert relay_ids(client, names) == ["m00000>relay", "m00002>relay"]
    dl = read_stream(client, names.dlq)[0].body
    assert isinstance(dl, DeadLetter)
    assert dl.deliveries == 3
    assert "injected I/O failure for poison00001" in dl.reason
    assert proc.alive()


def test_handler_refusal_is_dead_lettered_at_once_with_its_reason(
    client: redis.Redis, names: Names, services: Services
) -> None:
    proc = services.start("nexus_mesh.relay", NX_RELAY_REFUSE_PREFIX="poison", NX_MAX_DELIVERIES="3")
    xadd(client, names.stream("relay:in"), ev(0))
    xadd(client, names.stream("relay:in"), ev(1, prefix="poison"))
    xadd(client, names.stream("relay:in"), ev(2))
    wait_for(lambda: client.xlen(names.dlq) == 1 and pending(client, names) == 0, what="poison dead-lettered")
    assert relay_ids(client, names) == ["m00000>relay", "m00002>relay"]
    dl = read_stream(client, names.dlq)[0].body
    assert isinstance(dl, DeadLetter)
    assert dl.deliveries == 1  # a validation failure is permanent: no retries
    assert "ValueError: injected refusal of poison00001" in dl.reason
    assert proc.alive()


def test_redis_restarted_from_aof_mid_stream_nothing_lost(
    restartable_redis: RedisServer, namespace: str, tmp_path: object, services: Services
) -> None:
    services.redis_url = restartable_redis.url
    names = Names(namespace)
    client = redis.Redis.from_url(restartable_redis.url)
    services.start("nexus_mesh.relay")
    services.start("nexus_mesh.relay")
    sent = feed(client, names, 100, prefix="a")
    wait_for(lambda: len(relay_ids(client, names)) >= 20, what="some progress")
    restartable_redis.kill()  # SIGKILL: every acknowledged write is in the AOF (fsync always)
    time.sleep(0.5)
    restartable_redis.start()
    client = redis.Redis.from_url(restartable_redis.url)
    sent += feed(client, names, 100, prefix="b")
    wait_for(
        lambda: len(relay_ids(client, names)) >= 200 and pending(client, names) == 0,
        timeout_s=30,
        what="catch-up",
    )
    got = relay_ids(client, names)
    assert sorted(got) == sorted(sent)
    assert len(got) == len(set(got))
    client.close()


@pytest.mark.tool("redis-cli", apt="redis-tools")
def test_header_fields_are_plain_text_in_redis_cli(
    redis_server: RedisServer, client: redis.Redis, names: Names
) -> None:
    xadd(client, names.stream("relay:in"), ev(7))
    out = subprocess.run(
        ["redis-cli", "-p", str(redis_server.port), "XRANGE", names.stream("relay:in"), "-", "+"],
        capture_output=True,
        text=True,
        check=True,
        errors="replace",
    ).stdout.splitlines()
    assert out[out.index("type") + 1] == "event"
    assert out[out.index("v") + 1] == "1"
    assert out[out.index("id") + 1] == "m00007"
    assert out[out.index("trace") + 1] == "m00007"
    assert out[out.index("ts") + 1].isdigit()
    assert "data" in out


def test_nogroup_recreates_group_and_raises_critical_event(
    client: redis.Redis, names: Names, services: Services
) -> None:
    services.start("nexus_mesh.relay")
    feed(client, names, 3)
    wait_for(lambda: len(relay_ids(client, names)) == 3, what="first entries")
    client.delete(names.stream("relay:in"))  # the stream (and its group) vanish, as after FLUSH
    wait_for(
        lambda: any(e.body.kind == "group_recreated" for e in read_stream(client, names.events)),  # type: ignore[attr-defined]
        what="group_recreated event",
    )
    feed(client, names, 2, prefix="z")
    wait_for(lambda: len(relay_ids(client, names)) == 5, what="relay after recreation")


def test_sigterm_finishes_and_exits_zero(client: redis.Redis, names: Names, services: Services) -> None:
    proc = services.start("nexus_mesh.relay")
    feed(client, names, 5)
    wait_for(lambda: len(relay_ids(client, names)) == 5, what="relay")
    assert proc.terminate() == 0
    assert client.exists(names.health("relay", proc.name)) == 0


@pytest.mark.parametrize(
    "bad", [{"NX_BATCH_SIZE": "0"}, {"NX_NAMESPACE": "Bad Name"}, {"NX_REDIS_URL": "http://user:pw@x"}]
)
def test_bad_setting_fails_at_start_naming_the_field(services: Services, bad: dict[str, str]) -> None:
    proc = services.start("nexus_mesh.relay", **bad)
    assert proc.proc.wait(20) == 2  # type: ignore[union-attr]
    assert next(iter(bad)) in proc.log()
    assert "pw@" not in proc.log()  # a URL may carry a password: never printed
