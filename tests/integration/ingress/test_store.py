"""The ingress's Redis state on a real redis-server: one script admits (replay, rate limit, record),
executions are kept only for the ingress's own signals and a final one is never replaced."""

from __future__ import annotations

import time

import redis

from nexus_ingress.store import Outcome, Store, new_record
from nexus_protocol import Envelope, Execution, Names, OrderStatus, Side, Signal
from nexus_protocol.ids import keyed_signal_id

DAY_MS = 86_400_000


def signal_env(key: str, source: str = "tv") -> Envelope[Signal]:
    sid = keyed_signal_id(source, key)
    return Envelope.new(
        Signal(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=1), id=sid, ts=time.time_ns()
    )


def execution_env(sid: str, status: OrderStatus, final: bool) -> Envelope[Execution]:
    ex = Execution(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=1, status=status, final=final)
    return Envelope.new(ex, id=f"{sid}:{status.value}", trace=sid)


def test_a_known_id_answers_with_the_first_record_and_spends_no_rate(
    client: redis.Redis, names: Names
) -> None:
    store = Store(client, names, ttl_ms=DAY_MS)
    env = signal_env("k1")
    first = new_record("tv", "k1", "fp1", env)
    got = store.admit(first, env.id, rate_per_s=0.001, burst=1)
    assert got.outcome is Outcome.NEW and got.record == first
    again = store.admit(new_record("tv", "k1", "fp2", env), env.id, rate_per_s=0.001, burst=1)
    assert again.outcome is Outcome.SEEN and again.record == first  # the first, not the second
    assert store.record(env.id) == first and store.record(keyed_signal_id("tv", "zz")) is None
    other = signal_env("k2")
    limited = store.admit(new_record("tv", "k2", "fp", other), other.id, rate_per_s=0.001, burst=1)
    assert limited.outcome is Outcome.LIMITED and 990_000 < limited.retry_after_ms <= 1_000_001
    assert store.record(other.id) is None  # refused: nothing recorded
    assert 0 < client.pttl(names.state("ingress", "req", env.id)) <= DAY_MS  # type: ignore[operator]


def test_the_rate_is_a_burst_then_a_steady_pace_per_source(client: redis.Redis, names: Names) -> None:
    store = Store(client, names, ttl_ms=DAY_MS)

    def send(source: str, n: int) -> list[Outcome]:
        out = []
        for i in range(n):
            env = signal_env(f"{source}-{i}-{time.time_ns()}", source)
            out.append(store.admit(new_record(source, None, "f", env), env.id, rate_per_s=2, burst=3).outcome)
        return out

    assert send("a", 4) == [Outcome.NEW] * 3 + [Outcome.LIMITED]
    assert send("b", 3) == [Outcome.NEW] * 3  # another source has its own budget
    time.sleep(0.55)  # one more every 0.5 s
    assert send("a", 2) == [Outcome.NEW, Outcome.LIMITED]


def test_executions_are_kept_for_own_signals_and_a_final_one_stays(client: redis.Redis, names: Names) -> None:
    store = Store(client, names, ttl_ms=DAY_MS)
    env = signal_env("k1")
    store.admit(new_record("tv", "k1", "f", env), env.id, rate_per_s=10, burst=10)
    assert not store.keep_execution(execution_env("01JQ0000000000000000000000", OrderStatus.FILLED, True),
                                    "01JQ0000000000000000000000", True)  # fmt: skip
    assert store.execution(env.id) is None
    assert store.keep_execution(execution_env(env.id, OrderStatus.PARTIALLY_FILLED, False), env.id, False)
    assert store.keep_execution(execution_env(env.id, OrderStatus.FILLED, True), env.id, True)
    late = execution_env(env.id, OrderStatus.PARTIALLY_FILLED, False)
    assert not store.keep_execution(late, env.id, False)  # a late partial after the final
    kept = store.execution(env.id)
    assert kept is not None and isinstance(kept.body, Execution) and kept.body.status is OrderStatus.FILLED
