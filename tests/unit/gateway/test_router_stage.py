"""The router stage as a plain function over a state view: decision and its writes, replayed when
redelivered, exposure moved by executions (no Redis)."""

from __future__ import annotations

import time

import pytest

from nexus_gateway.router.config import RouterSettings
from nexus_gateway.router.limits import load_limits
from nexus_gateway.router.service import Router
from nexus_mesh.config_files import load_symbols
from nexus_mesh.context import stage_context
from nexus_mesh.deadletter import Rejected
from nexus_mesh.state import StateView
from nexus_mesh.venues import load_venues
from nexus_protocol import Envelope, Execution, Heartbeat, Leg, Order, OrderStatus, Route, Side, Signal
from nexus_protocol.codec import encode, pack
from nexus_protocol.errors import DecodeError
from nexus_protocol.ids import new_signal_id
from nexus_testing import REPO_ROOT

CONFIG = REPO_ROOT / "deploy" / "config"
SETTINGS = RouterSettings(namespace="t", environment="dev")
VENUES = load_venues(CONFIG, "dev")
ROUTER = Router(SETTINGS, VENUES, load_limits(CONFIG, "dev"), load_symbols(CONFIG))
NQ = ("nt8", "sierra", "quantower", "mt5-global")


def connected() -> StateView:
    n = SETTINGS.names
    hb = {
        v: pack(Heartbeat(service="a", instance="i", started_ns=0, venue=v, venue_connected=True)) for v in NQ
    }
    return StateView.of(strings={n.control("venue", v): raw for v, raw in hb.items()})


def signal(qty: float = 1) -> Envelope[Signal]:
    sid = new_signal_id()
    return Envelope.new(Signal(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=qty), id=sid)


def test_a_signal_routes_one_order_per_venue_and_records_the_decision() -> None:
    ctx = stage_context(SETTINGS, connected(), clock_ns=time.time_ns())
    env = signal()
    r = ROUTER.on_signal(env, ctx)  # type: ignore[arg-type]
    route = next(o.envelope.body for o in r.outputs if isinstance(o.envelope.body, Route))
    orders = [o.envelope.body for o in r.outputs if isinstance(o.envelope.body, Order)]
    assert sorted(o.venue for o in orders) == sorted(NQ)
    assert route.reason is None
    ctx.view.batch.apply(r.writes)
    exposure = ctx.hgetall(ROUTER.state.exposure)
    assert {k: float(v) for k, v in exposure.items()} == {f"{v}|NQ": 1.0 for v in NQ}
    again = ROUTER.on_signal(env, ctx)  # type: ignore[arg-type]
    assert not again.writes  # the recorded decision, replayed
    assert [o.envelope.id for o in again.outputs] == [o.envelope.id for o in r.outputs]


def test_an_execution_sets_each_legs_exposure_once() -> None:
    ctx = stage_context(SETTINGS, connected(), clock_ns=time.time_ns())
    env = signal(2)
    ctx.view.batch.apply(ROUTER.on_signal(env, ctx).writes)  # type: ignore[arg-type]
    legs = tuple(
        Leg(venue=v, client_order_id=f"{env.id}.{VENUES[v].code}0", status=OrderStatus.FILLED, quantity=2,
            filled_quantity=1)
        for v in NQ
    )  # fmt: skip
    ex = Execution(signal_id=env.id, symbol="NQ", side=Side.BUY, quantity=2, final=True, legs=legs,
                   status=OrderStatus.PARTIALLY_FILLED, realized_pnl_usd=-5.0)  # fmt: skip
    for _ in range(2):  # a redelivery changes nothing
        ctx.view.batch.apply(ROUTER.on_execution(Envelope.new(ex, id="x"), ctx).writes)  # type: ignore[arg-type]
    assert {k: float(v) for k, v in ctx.hgetall(ROUTER.state.exposure).items()} == {
        f"{v}|NQ": 1.0 for v in NQ
    }
    day = ROUTER.limits.session_day(ROUTER._now())
    totals = ctx.hgetall(ROUTER.state.day(day, "totals"))
    assert (float(totals["trades"]), float(totals["pnl"])) == (1.0, -5.0)


def test_a_dead_lettered_signal_is_answered_once_with_a_refused_route_under_its_id() -> None:
    ctx = stage_context(SETTINGS, connected(), clock_ns=time.time_ns())
    sid = new_signal_id()[:-1] + "U"  # no ULID: the router cannot derive its legs' ids
    env = Envelope.new(Signal(signal_id=sid, symbol="NQ", side=Side.SELL, quantity=2), id=sid)
    with pytest.raises(DecodeError, match="holds 'U'"):
        ROUTER.prefetch(env)  # type: ignore[arg-type]
    r = Rejected(SETTINGS.names.signals, "1-0", encode(env), "handler refused it: DecodeError: holds 'U'")
    result = ROUTER.on_dead_signal(r, ctx)
    (route,) = [o.envelope.body for o in result.outputs if isinstance(o.envelope.body, Route)]
    assert (route.signal_id, route.symbol, route.side, route.quantity, route.legs) == (
        sid,
        "NQ",
        Side.SELL,
        2,
        (),
    )
    assert route.reason is not None and route.reason.startswith("dead-lettered: handler refused it")
    assert [o.envelope.body.kind for o in result.outputs if o.stream == SETTINGS.names.events] == [
        "signal_dead_lettered"
    ]
    ctx.view.batch.apply(result.writes)
    assert ROUTER.on_dead_signal(r, ctx).outputs == []  # decided: never answered twice
    garbage = Rejected(SETTINGS.names.signals, "2-0", {b"data": b"\xc1"}, "invalid entry")
    assert ROUTER.on_dead_signal(garbage, ctx).outputs == []  # no id to answer under


def test_executions_that_move_nothing_write_nothing() -> None:
    """Each leg's figure is written when it changes, its retention clock started once; the next
    executions of the signal (the same legs, the same P&L) write nothing."""
    ctx = stage_context(SETTINGS, connected(), clock_ns=time.time_ns())
    env = signal()
    ctx.view.batch.apply(ROUTER.on_signal(env, ctx).writes)  # type: ignore[arg-type]
    coids = [f"{env.id}.{VENUES[v].code}0" for v in NQ]

    def execution(filled: int) -> Envelope[Execution]:
        legs = tuple(
            Leg(venue=v, client_order_id=c, status=OrderStatus.FILLED if i < filled else OrderStatus.ACCEPTED,
                quantity=1, filled_quantity=1 if i < filled else 0)
            for i, (v, c) in enumerate(zip(NQ, coids, strict=True))
        )  # fmt: skip
        ex = Execution(signal_id=env.id, symbol="NQ", side=Side.BUY, quantity=1, legs=legs,
                       status=OrderStatus.PARTIALLY_FILLED, final=filled == len(NQ))  # fmt: skip
        return Envelope.new(ex, id=f"x{filled}")

    written = []
    for filled in (1, 2, 2, 4):
        ops = ROUTER.on_execution(execution(filled), ctx).writes.ops  # type: ignore[arg-type]
        ctx.view.batch.apply(ops)
        written.append({op[2] for op in ops if op[0] == "Z"} if ops else None)
    assert written == [{coids[0]}, {coids[1]}, None, {coids[2], coids[3]}]
    assert {k: float(v) for k, v in ctx.hgetall(ROUTER.state.exposure).items()} == {
        f"{v}|NQ": 1.0 for v in NQ
    }
