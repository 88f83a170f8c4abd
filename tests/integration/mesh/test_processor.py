"""The StreamProcessor's dead letters on a real Redis: an input's answer committed with its dead letter,
a sink that keeps what it cannot process (no second dead letter), entries too large dead-lettered by
reference, and neither a failing prefetch nor a failing hook stopping the stream."""

from __future__ import annotations

import pytest
import redis

from nexus_mesh import commit
from nexus_mesh.context import Context
from nexus_mesh.deadletter import Rejected, entry_digest
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output
from nexus_mesh.settings import MeshSettings
from nexus_mesh.state import Read, Result, Writes, hget
from nexus_protocol import Envelope, Event, Names
from nexus_protocol.codec import decode, encode
from nexus_protocol.messages import DeadLetter, Message
from nexus_testing import read_stream, xadd


def ev(i: int) -> Envelope[Event]:
    return Envelope.new(Event(kind="test", source="test", message=f"n{i}"), id=f"m{i}")


class Stage:
    """Relays events to `out`; answers each dead letter with an event naming it and counts them in
    its own state (a read and a write, committed with the dead letter)."""

    def __init__(self, names: Names) -> None:
        self.names = names
        self.seen = names.state("t", "dead")
        self.out = names.stream("out")

    def handle(self, env: Envelope[Message], ctx: Context) -> list[Output]:
        if isinstance(env.body, Event) and env.body.message == "boom":
            raise ValueError("boom is not a message")
        return [Output(self.out, env.derive(env.body, id=f"{env.id}>out"))]

    def answer(self, r: Rejected, ctx: Context) -> Result:
        before = int(ctx.hget(self.seen, "n") or 0)
        body = Event(kind="dead", source="t", message=r.reason, data={"oversized": r.oversized})
        event = Output(self.out, Envelope.new(body, id=f"dead:{r.entry_id}"))
        return Result([event], Writes().hset(self.seen, "n", str(before + 1)))


@pytest.fixture
def settings(redis_url: str, namespace: str) -> MeshSettings:
    return MeshSettings(
        redis_url=redis_url, namespace=namespace, service="t", block_ms=20, max_entry_bytes=16_384
    )


def run(proc: StreamProcessor, rounds: int = 5) -> None:
    proc.setup()
    for _ in range(rounds):
        proc.run_once()
    proc.flush_acks()


def dead_letters(client: redis.Redis, names: Names) -> list[DeadLetter]:
    return [e.body for e in read_stream(client, names.dlq) if isinstance(e.body, DeadLetter)]


@pytest.fixture
def stage(names: Names) -> Stage:
    return Stage(names)


def test_a_dead_letter_is_answered_in_the_same_commit_and_the_stream_goes_on(
    client: redis.Redis, names: Names, settings: MeshSettings, stage: Stage
) -> None:
    src = names.stream("in")
    xadd(client, src, ev(1))
    client.xadd(src, {"type": "event", "v": "1", "id": "x", "trace": "x", "ts": "1", "data": b"\xc1"})
    xadd(client, src, Envelope.new(Event(kind="t", source="t", message="boom"), id="b"))
    xadd(client, src, ev(2))
    inp = Input(src, stage.handle, on_dead_letter=stage.answer)
    run(StreamProcessor(settings, [inp], client=client, state_owner="t"))
    out = [e.id for e in read_stream(client, stage.out)]
    dead_ids = [e for e in out if e.startswith("dead:")]
    assert out[0] == "m1>out" and out[-1] == "m2>out" and len(dead_ids) == 2
    assert client.hget(stage.seen, "n") == b"2"  # the hook's state writes, committed
    reasons = [d.reason for d in dead_letters(client, names)]
    assert reasons[0].startswith("invalid entry: ") and "body is not msgpack" in reasons[0]
    assert reasons[1] == "handler refused it: ValueError: boom is not a message"
    assert client.xpending(src, "t")["pending"] == 0


def test_a_sink_keeps_what_it_cannot_process_and_writes_no_dead_letter(
    client: redis.Redis, names: Names, settings: MeshSettings, stage: Stage
) -> None:
    src = names.stream("in")
    client.xadd(src, {"garbage": b"\x00\x01"})
    inp = Input(src, stage.handle, on_dead_letter=stage.answer, dead_letters=False)
    run(StreamProcessor(settings, [inp], client=client, state_owner="t"))
    assert dead_letters(client, names) == []
    (kept,) = read_stream(client, stage.out)
    assert isinstance(kept.body, Event) and "missing header field" in kept.body.message


def test_an_entry_past_the_limit_is_dead_lettered_by_reference_never_decoded(
    client: redis.Redis, names: Names, settings: MeshSettings, stage: Stage
) -> None:
    src = names.stream("in")
    big = Envelope.new(Event(kind="t", source="t", message="x" * 20_000), id="big")
    entry = client.xadd(src, encode(big))  # type: ignore[arg-type]
    xadd(client, src, ev(3))
    run(StreamProcessor(settings, [Input(src, stage.handle, on_dead_letter=stage.answer)], client=client))
    ((_, original),) = client.xrange(src, entry, entry)
    (dl,) = dead_letters(client, names)
    assert dl.entry_id == entry.decode() and dl.stream == src
    assert dl.size == sum(len(k) + len(v) for k, v in original.items()) > 20_000
    assert dl.sha256 == entry_digest(original)
    assert set(dl.fields) == {"type", "v", "id", "trace", "ts"} and dl.fields["id"] == b"big"
    assert "over the limit of 16,384 (NX_MAX_ENTRY_BYTES)" in dl.reason and "'data'" in dl.reason
    ((_, stored),) = client.xrange(names.dlq)
    assert len(stored[b"data"]) < 2_000  # the dead letter itself is small
    answer, relayed = read_stream(client, stage.out)
    assert isinstance(answer.body, Event) and answer.body.data == {"oversized": True}
    assert relayed.id == "m3>out"


def test_a_dead_letter_of_a_large_entry_under_the_limit_stays_under_it(
    client: redis.Redis, names: Names, settings: MeshSettings, stage: Stage
) -> None:
    src = names.stream("in")
    fields = dict(encode(Envelope.new(Event(kind="t", source="t", message="boom"), id="b")))
    fields["pad"] = b"p" * 15_000  # under the limit; its dead letter would not be
    client.xadd(src, fields)  # type: ignore[arg-type]
    run(StreamProcessor(settings, [Input(src, stage.handle)], client=client))
    ((_, stored),) = client.xrange(names.dlq)
    dl = decode(stored).body
    assert isinstance(dl, DeadLetter) and dl.sha256 and "pad" not in dl.fields
    assert sum(len(k) + len(v) for k, v in stored.items()) < settings.max_entry_bytes


def test_a_failing_prefetch_or_hook_dead_letters_the_entry_and_the_stream_goes_on(
    client: redis.Redis, names: Names, settings: MeshSettings, stage: Stage
) -> None:
    src = names.stream("in")
    xadd(client, src, Envelope.new(Event(kind="t", source="t", message="no prefetch"), id="p"))
    xadd(client, src, ev(4))

    def prefetch(env: Envelope[Message]) -> list[Read]:
        if isinstance(env.body, Event) and env.body.message == "no prefetch":
            raise KeyError("cannot say what it reads")
        return [hget(stage.seen, "n")]

    def broken_hook(r: Rejected, ctx: Context) -> Result:
        raise RuntimeError("the hook is broken")

    inp = Input(src, stage.handle, prefetch=prefetch, on_dead_letter=broken_hook)
    run(StreamProcessor(settings, [inp], client=client, state_owner="t"))
    (dl,) = dead_letters(client, names)
    assert dl.reason == "handler refused it: KeyError: 'cannot say what it reads'"
    assert [e.id for e in read_stream(client, stage.out)] == ["m4>out"]


def test_owned_state_changed_by_another_writer_during_a_batch_is_handled_again(
    client: redis.Redis, names: Names, settings: MeshSettings
) -> None:
    """The WATCH sent with the read holds until the commit: a write to the owner's version in between
    (here from inside the first handler call) makes Redis refuse the EXEC, and the batch is handled
    again from the state as the other writer left it."""
    src, key = names.stream("in"), names.state("t", "count")
    xadd(client, src, ev(1))
    calls = []

    def count(env: Envelope[Message], ctx: Context) -> Result:
        n = int(ctx.hget(key, "n") or 0)
        if not calls:  # another writer commits between this batch's read and its commit
            commit.write_owned(client, names.state("t", "version"), lambda get: Writes().hset(key, "n", "10"))
        calls.append(n)
        return Result([], Writes().hset(key, "n", str(n + 1)))

    proc = StreamProcessor(settings, [Input(src, count, prefetch=lambda e: [hget(key, "n")])],
                           client=client, state_owner="t")  # fmt: skip
    run(proc)
    assert calls == [0, 10] and client.hget(key, "n") == b"11"
    assert "conflicts=1" in repr(proc)
