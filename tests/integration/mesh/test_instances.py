"""Two instances of one stateful stage in one group: every message's state write lands, none lost to
the other instance (the version check: WATCH on one server, the commit's guard on a cluster)."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from nexus_mesh.connection import connect
from nexus_mesh.context import Context
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.settings import MeshSettings
from nexus_mesh.state import Result, Writes, hget
from nexus_protocol import Envelope, Event, Names
from nexus_protocol.messages import Message
from nexus_testing import xadd

N = 300


def run_two_counters(client: redis.Redis, redis_url: str, names: Names) -> list[StreamProcessor]:
    counter = names.state("count", "n")

    def count(env: Envelope[Message], ctx: Context) -> Result:
        ctx.need(hget(counter, "n"))
        return Result([], Writes().hset(counter, "n", str(int(ctx.hget(counter, "n") or 0) + 1)))

    src = names.stream("in")
    procs = []
    for consumer in ("a", "b"):
        settings = MeshSettings(
            redis_url=redis_url, namespace=names.namespace, service="count", consumer=consumer,
            block_ms=5, batch_size=3,
        )  # fmt: skip
        proc = StreamProcessor(settings, [Input(src, count)], client=connect(redis_url), state_owner="count")
        proc.setup()
        procs.append(proc)
    for i in range(N):
        xadd(client, src, Envelope.new(Event(kind="t", source="t", message=str(i)), id=f"m{i}"))

    def loop(proc: StreamProcessor) -> None:
        deadline = time.monotonic() + 60
        while client.xpending(src, "count")["pending"] or client.xlen(src) > sum(
            p._counters.processed for p in procs
        ):
            if time.monotonic() > deadline:
                return
            proc.run_once()
            proc.flush_acks()

    threads = [threading.Thread(target=loop, args=(p,)) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.hget(counter, "n") == str(N).encode(), procs
    return procs


def test_two_instances_of_a_stateful_stage_lose_no_update(
    client: redis.Redis, redis_url: str, names: Names
) -> None:
    run_two_counters(client, redis_url, names)


@pytest.mark.cluster
def test_two_instances_on_a_cluster_lose_no_update(client: redis.Redis, redis_url: str, names: Names) -> None:
    run_two_counters(client, redis_url, names)
