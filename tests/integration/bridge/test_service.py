"""The bridge service's handlers on a real Redis: filters, duplicate prevention (restart-safe, with
its timeout), circuit breakers and the venue guard, each with its event and rejected execution."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import redis

from nexus_bridge.wire import intake_stream
from nexus_mesh.killswitch import KillSwitch
from nexus_protocol import Envelope, Event, Execution, Heartbeat, Leg, Names, OrderStatus, Side, Signal
from nexus_protocol.codec import pack
from nexus_protocol.ids import new_signal_id
from nexus_testing import read_stream, xadd

from .conftest import Clock, Driven


def send(
    client: redis.Redis,
    names: Names,
    symbol: str = "NQ",
    quantity: float = 1,
    confidence: float = 0.9,
    side: Side = Side.BUY,
    **fields: Any,
) -> str:
    sid = new_signal_id()
    sig = Signal(signal_id=sid, symbol=symbol, side=side, quantity=quantity, confidence=confidence, **fields)
    xadd(client, intake_stream(names), Envelope.new(sig, id=sid))
    return sid


def finish(
    client: redis.Redis,
    names: Names,
    sid: str,
    symbol: str = "NQ",
    pnl: float = 0.0,
    status: OrderStatus = OrderStatus.FILLED,
) -> None:
    filled = 1.0 if status is OrderStatus.FILLED else 0.0
    leg = Leg(
        venue="sim",
        client_order_id=f"{sid}.sm0",
        status=status,
        quantity=1,
        filled_quantity=filled,
        realized_pnl_usd=pnl,
    )
    ex = Execution(
        signal_id=sid,
        symbol=symbol,
        side=Side.BUY,
        quantity=1,
        status=status,
        final=True,
        filled_quantity=filled,
        realized_pnl_usd=pnl,
        legs=(leg,),
    )
    xadd(client, names.executions, Envelope.new(ex, id=f"{sid}:final", trace=sid))


def signals(client: redis.Redis, names: Names) -> dict[str, Signal]:
    return {
        e.body.signal_id: e.body for e in read_stream(client, names.signals) if isinstance(e.body, Signal)
    }


def events(client: redis.Redis, names: Names, kind: str) -> list[Event]:
    return [
        e.body for e in read_stream(client, names.events) if isinstance(e.body, Event) and e.body.kind == kind
    ]


def rejected(client: redis.Redis, names: Names, sid: str) -> Execution | None:
    for e in read_stream(client, names.executions):
        if isinstance(e.body, Execution) and e.body.signal_id == sid and e.id == f"{sid}:bridge":
            return e.body
    return None


def test_filters_refuse_with_an_event_and_a_rejected_execution(
    client: redis.Redis, names: Names, driven: Callable[..., Driven]
) -> None:
    d = driven()
    low = send(client, names, confidence=0.5)
    noisy = send(client, names, symbol="ES", mqscore=0.9, noise=0.8)
    half = send(client, names, symbol="MNQ", quantity=3, confidence=0.7)
    d.drain()
    ex = rejected(client, names, low)
    assert (
        ex is not None
        and ex.final
        and ex.status is OrderStatus.REJECTED
        and ex.reason.startswith("confidence")
    )  # type: ignore[union-attr]
    [ev] = [e for e in events(client, names, "signal_filtered") if e.signal_id == low]
    assert ev.data == {"filter": "confidence", "value": 0.5, "threshold": 0.65}
    [ev] = [e for e in events(client, names, "signal_filtered") if e.signal_id == noisy]
    assert ev.data == {"filter": "noise", "value": 0.8, "threshold": 0.7}
    sent = signals(client, names)
    assert set(sent) == {half} and sent[half].quantity == 1
    assert events(client, names, "signal_resized")[0].data["to"] == 1


def test_one_working_signal_per_symbol_until_its_final_execution(
    client: redis.Redis, names: Names, driven: Callable[..., Driven]
) -> None:
    d = driven()
    first = send(client, names)
    d.drain()
    second = send(client, names)
    other = send(client, names, symbol="ES")
    d.drain()
    assert set(signals(client, names)) == {first, other}
    [dup] = events(client, names, "duplicate_signal")
    assert dup.signal_id == second and dup.data["working_signal_id"] == first
    assert rejected(client, names, second) is not None
    # A restarted bridge (a new instance on the same state) still holds NQ.
    d2 = driven()
    third = send(client, names)
    d2.drain()
    assert third not in signals(client, names)
    # A non-final execution keeps it; the final one releases it.
    ex = Execution(signal_id=first, symbol="NQ", side=Side.BUY, quantity=1, status=OrderStatus.ACCEPTED)
    xadd(client, names.executions, Envelope.new(ex, id=f"{first}:route", trace=first))
    d2.drain()
    assert d2.bridge.state.working()["NQ"].signal_id == first
    finish(client, names, first)
    fourth = send(client, names)
    d2.drain()
    assert fourth in signals(client, names)


def test_a_redelivered_signal_gets_the_same_answer(
    client: redis.Redis, names: Names, driven: Callable[..., Driven]
) -> None:
    d = driven()
    first = send(client, names)
    second = send(client, names)
    d.drain()
    finish(client, names, first)
    d.drain()
    # The same signals again (a client retry): recorded decisions, no new outputs.
    for sid in (first, second):
        sig = Signal(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=1, confidence=0.9)
        xadd(client, intake_stream(names), Envelope.new(sig, id=sid))
    d.drain()
    assert len(events(client, names, "duplicate_signal")) == 1
    assert list(signals(client, names)) == [first]
    assert "NQ" not in d.bridge.state.working()


def test_a_symbol_whose_legs_never_end_is_released_by_the_timeout(
    client: redis.Redis, names: Names, driven: Callable[..., Driven], clock: Clock
) -> None:
    d = driven(bridge_duplicate_timeout_s=300)
    sid = send(client, names)
    d.drain()
    clock.advance(299)
    d.tick()
    assert "NQ" in d.bridge.state.working()
    clock.advance(2)
    d.tick()
    assert "NQ" not in d.bridge.state.working()
    [ev] = events(client, names, "duplicate_timeout")
    assert ev.severity.value == "critical" and ev.signal_id == sid
    d.tick()
    assert len(events(client, names, "duplicate_timeout")) == 1


def test_five_losses_pause_for_an_hour_counted_once(
    client: redis.Redis, names: Names, driven: Callable[..., Driven], clock: Clock
) -> None:
    d = driven()
    for i in range(5):
        sid = send(client, names)
        d.drain()
        finish(client, names, sid, pnl=-10.0 - i)
        if i == 3:
            finish(client, names, sid, pnl=-10.0 - i)  # a redelivered final execution counts once
        d.drain()
    [trip] = events(client, names, "circuit_breaker_tripped")
    assert (
        trip.data["check"] == "consecutive_losses"
        and trip.data["value"] == 5
        and trip.severity.value == "critical"
    )
    refused = send(client, names)
    d.drain()
    [ev] = events(client, names, "circuit_breaker_open")
    assert ev.signal_id == refused and ev.data["check"] == "consecutive_losses" and ev.data["threshold"] == 5
    assert rejected(client, names, refused) is not None
    assert not KillSwitch(client, names).active()
    clock.advance(3601)
    d.tick()
    assert events(client, names, "circuit_breaker_reset")
    allowed = send(client, names)
    d.drain()
    assert allowed in signals(client, names)


def test_daily_loss_pauses_and_turns_the_kill_switch_on(
    client: redis.Redis, names: Names, driven: Callable[..., Driven], clock: Clock
) -> None:
    d = driven()
    sid = send(client, names)
    d.drain()
    finish(client, names, sid, pnl=-1000.0)
    d.drain()
    trips = {e.data["check"]: e for e in events(client, names, "circuit_breaker_tripped")}
    assert trips["daily_loss"].data["value"] == -1000.0 and trips["daily_loss"].data["threshold"] == -1000.0
    ks = KillSwitch(client, names).state()
    assert ks is not None and ks.on and ks.by == "nexus-bridge"
    later = send(client, names)
    clock.advance(23 * 3600)
    d.drain()
    [ev] = events(client, names, "circuit_breaker_open")
    assert ev.signal_id == later and ev.data["check"] == "daily_loss"
    d.tick()
    assert len([e for e in read_stream(client, names.events) if e.body.kind == "killswitch"]) == 1


def heartbeat(client: redis.Redis, names: Names, venue: str, up: bool = True) -> None:
    hb = Heartbeat(service=f"adapter-{venue}", instance="t", started_ns=0, venue=venue, venue_connected=up)
    client.set(names.control("venue", venue), pack(hb), px=60_000)


def test_venue_guard_sends_to_connected_venues_and_alerts(
    client: redis.Redis, names: Names, driven: Callable[..., Driven]
) -> None:
    d = driven(environment="dev", bridge_venue_guard=True)
    heartbeat(client, names, "nt8")
    heartbeat(client, names, "sierra")
    heartbeat(client, names, "quantower", up=False)
    d.tick()
    down = {e.venue for e in events(client, names, "venue_disconnected")}
    assert down == {"quantower", "mt5-global", "mt5-brazil", "bookmap"}
    sid = send(client, names)
    d.drain()
    assert signals(client, names)[sid].venues == ("nt8", "sierra")
    client.delete(names.control("venue", "nt8"), names.control("venue", "sierra"))
    refused = send(client, names, symbol="ES")
    d.tick()
    [ev] = events(client, names, "venue_unavailable")
    assert ev.signal_id == refused and rejected(client, names, refused) is not None
    heartbeat(client, names, "nt8")
    d.tick()
    assert [e.venue for e in events(client, names, "venue_reconnected")] == ["nt8"]
    assert len(events(client, names, "venue_disconnected")) == 6  # nt8 and sierra once each, no repeats


def test_operator_status_and_breaker_reset_commands(
    redis_url: str, client: redis.Redis, names: Names, driven: Callable[..., Driven]
) -> None:
    d = driven()
    sid = send(client, names)
    d.drain()
    finish(client, names, sid, pnl=-1000.0)
    d.drain()
    assert d.bridge.state.breakers().daily_until_ms > 0
    base = [sys.executable, "-m", "nexus_bridge.cli"]
    opts = ["--redis-url", redis_url, "--namespace", names.namespace]
    out = subprocess.run([*base, "status", *opts], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and "daily loss paused until" in out.stdout, out.stdout + out.stderr
    out = subprocess.run(
        [*base, "reset-breakers", "--reason", "reviewed", *opts],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    b = d.bridge.state.breakers()
    assert b.daily_until_ms == 0 and b.loss_until_ms == 0 and b.daily_trip_day  # still tripped once today
    [ev] = [e for e in events(client, names, "circuit_breaker_reset") if e.data.get("check") == "operator"]
    assert "reviewed" in ev.message
    again = send(client, names)
    d.drain()
    assert again in signals(client, names)


def test_a_signal_id_that_is_no_ulid_is_refused_with_why_and_locks_nothing(
    client: redis.Redis, names: Names, driven: Callable[..., Driven]
) -> None:
    d = driven()
    good = new_signal_id()
    bad = {"letters": good[:-1] + "U", "short": good[:-1], "long": good + "0", "spaces": "not an id at all"}
    for sid in bad.values():
        sig = Signal(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=1, confidence=0.9)
        xadd(client, intake_stream(names), Envelope.new(sig, id=sid))
    d.drain()
    for what, sid in bad.items():
        ex = rejected(client, names, sid)
        assert ex is not None and ex.final and ex.status is OrderStatus.REJECTED, what
        assert (ex.reason or "").startswith("signal_id: signal id"), ex.reason
    assert "holds 'U'" in (rejected(client, names, bad["letters"]).reason or "")  # type: ignore[union-attr]
    assert "has 25 characters" in (rejected(client, names, bad["short"]).reason or "")  # type: ignore[union-attr]
    assert len(events(client, names, "signal_invalid")) == len(bad)
    assert not signals(client, names) and not d.bridge.state.working()
    assert not read_stream(client, names.dlq)
    assert send(client, names) and d.drain() and len(signals(client, names)) == 1  # NQ is free


def test_an_intake_entry_dead_lettered_is_still_answered_under_its_id(
    client: redis.Redis, names: Names, driven: Callable[..., Driven]
) -> None:
    d = driven()
    sid = send(client, names, strategy="x" * 5000)  # over the limit of 128 characters
    d.drain()
    [letter] = [e.body for e in read_stream(client, names.dlq)]
    assert "strategy is 5,000 characters, over the limit of 128" in letter.reason  # type: ignore[attr-defined]
    ex = rejected(client, names, sid)
    assert ex is not None and ex.final and ex.status is OrderStatus.REJECTED
    assert (ex.reason or "").startswith("entry: invalid entry: invalid signal: strategy is 5,000 characters")
    assert [e.signal_id for e in events(client, names, "signal_invalid")] == [sid]
    assert not d.bridge.state.working() and not signals(client, names)
    xadd(client, intake_stream(names), Envelope.new(
        Signal(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=1, confidence=0.9), id=sid
    ))  # fmt: skip
    d.drain()
    assert not signals(client, names)  # the id was answered: never decided again
