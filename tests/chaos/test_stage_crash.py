"""Each gateway stage killed at every boundary of its first batch (after the read, after the handler
before the commit, after the commit before the acknowledgement): after a restart every input has had
its effect exactly once: outputs each once, state as if nothing had happened."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from stage_crash import POINTS, bodies, crash_and_recover, ids

from nexus_bridge.wire import intake_stream
from nexus_protocol import (
    Envelope,
    Execution,
    Fill,
    Heartbeat,
    Names,
    Order,
    OrderStatus,
    Route,
    Side,
    Signal,
    VenueOrder,
)
from nexus_protocol.codec import pack
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_testing import Services, wait_for

NQ_VENUES = ("nt8", "sierra", "quantower", "mt5-global", "bookmap")


@pytest.mark.chaos
@pytest.mark.parametrize("point", POINTS)
def test_router(client: redis.Redis, names: Names, services: Services, point: str) -> None:
    for v in NQ_VENUES:
        hb = Heartbeat(service=f"adapter-{v}", instance="t", started_ns=0, venue=v, venue_connected=True)
        client.set(names.control("venue", v), pack(hb))
    sids = [new_signal_id() for _ in range(4)]
    # sent a minute ahead: on a loaded machine two starts of the router outlast the 10 s a signal may
    # wait before it is refused as stale
    ts = time.time_ns() + 60_000_000_000
    signals = [Signal(signal_id=s, symbol="NQ", side=Side.BUY, quantity=1) for s in sids]
    inputs = [(names.signals, Envelope.new(sig, id=sig.signal_id, ts=ts)) for sig in signals]
    crash_and_recover(
        client, services, "nexus_gateway.router", "router", inputs, point,
        lambda: len(bodies(client, names.fills, Route)) == len(sids), NX_ENVIRONMENT="dev",
    )  # fmt: skip
    routes = bodies(client, names.fills, Route)
    assert sorted(r.signal_id for r in routes) == sorted(sids)
    assert all(len(r.legs) == len(NQ_VENUES) and r.reason is None for r in routes), routes
    orders = ids(client, names.orders_routed)
    assert len(orders) == len(set(orders)) == len(NQ_VENUES) * len(sids)
    exposure = {k.decode(): float(v) for k, v in client.hgetall(names.state("router", "exposure")).items()}
    assert exposure == {f"{v}|NQ": 4.0 for v in NQ_VENUES}  # each leg counted once
    totals = [client.hgetall(k) for k in client.scan_iter(match=names.state("router", "day") + ":*:totals")]
    assert [float(t[b"trades"]) for t in totals] == [4.0]
    assert all(isinstance(o, Order) for o in bodies(client, names.orders_routed, Order))


@pytest.mark.chaos
@pytest.mark.parametrize("point", POINTS)
def test_normalizer(client: redis.Redis, names: Names, services: Services, point: str) -> None:
    client.hset(names.contracts, "NQ", "NQH25")
    sids = [new_signal_id() for _ in range(3)]
    inputs: list[tuple[str, Envelope[Any]]] = []
    for sid in sids:
        coid = client_order_id(sid, "n8")
        order = Order(
            client_order_id=coid, signal_id=sid, venue="nt8", symbol="NQ", side=Side.BUY, quantity=1
        )
        raw = Fill(
            fill_id=f"{coid}:x:1",
            client_order_id=coid,
            signal_id=sid,
            venue="nt8",
            status=OrderStatus.FILLED,
            venue_symbol="NQ 03-25",
            side=Side.BUY,
            last_qty=1,
            last_price=21000.0,
            cum_qty=1,
        )
        inputs += [
            (names.orders_routed, Envelope.new(order, id=coid)),
            (names.fills_raw, Envelope.new(raw, id=raw.fill_id)),
        ]
    crash_and_recover(
        client, services, "nexus_gateway.normalizer", "normalizer", inputs, point,
        lambda: len(ids(client, names.orders("nt8"))) == 3 and len(ids(client, names.fills_normalized)) == 3,
        NX_ENVIRONMENT="dev",
    )  # fmt: skip
    assert sorted(ids(client, names.orders("nt8"))) == sorted(client_order_id(s, "n8") for s in sids)
    normalized = bodies(client, names.fills_normalized, Fill)
    assert len(normalized) == 3 and all((f.symbol, f.contract) == ("NQ", "NQH25") for f in normalized)
    assert all(o.venue_symbol == "NQ 03-25" for o in bodies(client, names.orders("nt8"), VenueOrder))


@pytest.mark.chaos
@pytest.mark.parametrize("point", POINTS)
def test_fx(client: redis.Redis, names: Names, services: Services, point: str) -> None:
    inputs: list[tuple[str, Envelope[Any]]] = []
    for i, currency in enumerate(("USD", "BRL", "BRL", "USD")):
        sid = new_signal_id()
        coid = client_order_id(sid, "mb")
        f = Fill(
            fill_id=f"{coid}:x:{i}",
            client_order_id=coid,
            signal_id=sid,
            venue="mt5-brazil",
            status=OrderStatus.FILLED,
            venue_symbol="WINM25",
            side=Side.BUY,
            last_qty=1,
            last_price=130000.0,
            cum_qty=1,
            fee=2.0,
            currency=currency,
            symbol="WIN",
            contract="WINM25",
            qty_factor=1.0,
            point_value=0.2,
        )
        inputs.append((names.fills_normalized, Envelope.new(f, id=f.fill_id)))
    crash_and_recover(
        client, services, "nexus_gateway.fx", "fx", inputs, point, lambda: len(ids(client, names.fills)) == 4,
        NX_FX_SOURCE="fixed", NX_FX_FIXED_USDBRL="5.49",
    )  # fmt: skip
    out = bodies(client, names.fills, Fill)
    assert sorted(ids(client, names.fills)) == sorted(e.id for _, e in inputs)
    assert sorted(f.fee_usd for f in out) == [0.36, 0.36, 2.0, 2.0]


@pytest.mark.chaos
@pytest.mark.parametrize("point", POINTS)
def test_bridge(client: redis.Redis, names: Names, services: Services, point: str) -> None:
    sids = [new_signal_id() for _ in range(3)]
    inputs = [
        (intake_stream(names), Envelope.new(Signal(signal_id=s, symbol=sym, side=Side.BUY, quantity=1,
                                                   confidence=0.9), id=s))
        for s, sym in zip(sids, ("NQ", "ES", "NQ"), strict=True)
    ]  # fmt: skip
    crash_and_recover(
        client, services, "nexus_bridge", "nexus-bridge", inputs, point,
        lambda: len(ids(client, names.signals)) == 2 and len(ids(client, names.executions)) == 1,
        NX_BRIDGE_VENUE_GUARD="false",
    )  # fmt: skip
    assert sorted(ids(client, names.signals)) == sorted(sids[:2])  # the second NQ is a duplicate
    [refused] = bodies(client, names.executions, Execution)
    assert (refused.signal_id, refused.final, refused.status) == (sids[2], True, OrderStatus.REJECTED)
    working = {
        k.decode(): v.decode().split("|")[0]
        for k, v in client.hgetall(names.state("bridge", "working")).items()
    }
    assert working == {"NQ": sids[0], "ES": sids[1]}


@pytest.mark.chaos
@pytest.mark.parametrize("point", ["after_handle", "after_commit"])
def test_rollover(client: redis.Redis, names: Names, services: Services, point: str) -> None:
    def first_values() -> bool:
        return client.hlen(names.contracts) > 0

    first = services.start("nexus_gateway.rollover", name="rollover", NX_ROLLOVER_TODAY="2025-03-01",
                           NX_FAULT_KILL_AT=point, NX_FAULT_KILL_BATCH="1")  # fmt: skip
    assert first.proc is not None and first.proc.wait(60) == -9
    assert first_values() is (point == "after_commit")  # all or nothing
    services.start("nexus_gateway.rollover", name="rollover", NX_ROLLOVER_TODAY="2025-03-01")
    wait_for(first_values, timeout_s=60, what="the active contracts")  # a loaded machine: a slow start
    wait_for(lambda: len(ids(client, names.contract_history)) == client.hlen(names.contracts),
             timeout_s=60, what="history")  # fmt: skip
    history = ids(client, names.contract_history)
    assert len(history) == len(set(history)) == client.hlen(names.contracts)
