"""A stage's fresh reads on a cluster see what was written before the entries they go with, even when
the read waited for those entries and the state lives on another node (the kill switch, the active
contracts): on one server Redis runs them behind the blocked read; on a cluster they are a round trip
of their own after it."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from nexus_mesh.connection import connect
from nexus_mesh.context import Context
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.settings import MeshSettings
from nexus_mesh.state import whole
from nexus_protocol import Envelope, Event, Names
from nexus_protocol.messages import Message
from nexus_testing import xadd

pytestmark = pytest.mark.cluster


def key_on_another_node(client: redis.RedisCluster, names: Names, stream: str) -> str:
    node = client.get_node_from_key(stream)
    for i in range(100):
        key = f"{names.namespace}:{{switch{i}}}"
        if client.get_node_from_key(key) != node:
            return key
    raise AssertionError("every key on one node")


def test_a_blocked_reads_batch_sees_state_written_before_its_entries(
    client: redis.RedisCluster, names: Names, redis_url: str
) -> None:
    src = names.stream("in")
    switch = key_on_another_node(client, names, src)
    seen: list[dict[str, bytes]] = []

    def handle(env: Envelope[Message], ctx: Context) -> list[object]:
        seen.append(ctx.hgetall(switch))
        return []

    settings = MeshSettings(
        redis_url=redis_url, namespace=names.namespace, service="reader", block_ms=3000
    )  # fmt: skip
    proc = StreamProcessor(settings, [Input(src, handle)], client=connect(redis_url), fresh=[whole(switch)])
    proc.setup()
    proc.run_once()  # its own pending entries: none
    reading = threading.Thread(target=proc.run_once)
    reading.start()
    time.sleep(0.5)  # the read is blocked now
    client.hset(switch, "state", "engaged")
    xadd(client, src, Envelope.new(Event(kind="t", source="t", message="after the switch"), id="m1"))
    reading.join(timeout=10)
    assert seen == [{"state": b"engaged"}]
