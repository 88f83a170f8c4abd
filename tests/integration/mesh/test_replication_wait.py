"""NX_WAIT_REPLICAS: a commit waits for replicas in the same round trip; with none there, it goes on
after NX_WAIT_TIMEOUT_MS and counts the shortfall (the output is written, the input acknowledged)."""

from __future__ import annotations

import redis

from nexus_mesh import metrics
from nexus_mesh.context import Context
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output
from nexus_mesh.settings import MeshSettings
from nexus_protocol import Envelope, Event, Names
from nexus_protocol.messages import Message
from nexus_testing import read_stream, xadd


def test_a_commit_without_a_replica_goes_on_after_the_timeout_and_is_counted(
    client: redis.Redis, redis_url: str, names: Names
) -> None:
    settings = MeshSettings(
        redis_url=redis_url, namespace=names.namespace, service="waiter", block_ms=20,
        wait_replicas=1, wait_timeout_ms=30,
    )  # fmt: skip
    out = names.stream("out")

    def relay(env: Envelope[Message], ctx: Context) -> list[Output]:
        return [Output(out, env.derive(env.body, id=f"{env.id}>out"))]

    src = names.stream("in")
    proc = StreamProcessor(settings, [Input(src, relay)], client=client)
    proc.setup()
    xadd(client, src, Envelope.new(Event(kind="t", source="t", message="m"), id="m1"))
    short = metrics.REPLICATION_SHORT.labels("waiter")
    before = short._value.get()
    while not proc.run_once():
        pass
    proc.flush_acks()
    assert [e.id for e in read_stream(client, out)] == ["m1>out"]
    assert short._value.get() == before + 1
    assert client.xpending(src, "waiter")["pending"] == 0
