"""The NinjaTrader 8 / Quantower adapter as a process, against the simulated platform on a real socket:
orders in, one fill per execution out, market data, refusals, cancels (both platform namings)."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from nexus_protocol import Envelope, Fill, Names, OrderStatus, Side, VenueOrder
from nexus_protocol.codec import unpack
from nexus_protocol.enums import OrderType, TimeInForce
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_protocol.messages import Cancel, Heartbeat, Tick
from nexus_testing import Services, read_stream, venue_equity, wait_for, xadd
from nexus_testing.flatten import flatten_and_check

Rig = Any  # tests/integration/nt8/conftest.py: Rig (test modules cannot import each other)

VENUES = ["nt8", "quantower"]


@pytest.mark.parametrize("venue", VENUES)
def test_market_order_is_filled_once_even_when_replayed(rig_factory: Callable[..., Rig], venue: str) -> None:
    rig = rig_factory(venue)
    rig.wait_connected()
    rig.sim.set_price(rig.instrument, 21000.0)
    order = rig.order(qty=2)
    rig.send(order)
    wait_for(lambda: rig.filled(order.client_order_id), what="FILLED fill")
    first = rig.fills(order.client_order_id)
    assert [f.status for f in first] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    fill = first[-1]
    assert (fill.last_qty, fill.last_price, fill.cum_qty, fill.leaves_qty) == (2.0, 21000.0, 2.0, 0.0)
    assert fill.fee == pytest.approx(4.3)
    assert fill.venue_symbol == rig.instrument
    assert fill.venue_order_id
    assert fill.venue_order_id.startswith(rig.profile.execution_prefix)
    rig.send(order)  # a replay: looked up by client order id, never placed again
    wait_for(
        lambda: (
            int(rig.client.xpending(rig.names.orders(venue), f"adapter-{venue}")["pending"]) == 0
            and rig.client.xinfo_groups(rig.names.orders(venue))[0]["entries-read"] == 2
        ),
        what="replay handled",
    )
    assert rig.fills(order.client_order_id) == first
    assert [o.client_order_id for o in rig.sim.venue.orders()] == [order.client_order_id]


@pytest.mark.parametrize("venue", VENUES)
def test_ticks_of_subscribed_instruments_reach_md_raw(rig_factory: Callable[..., Rig], venue: str) -> None:
    rig = rig_factory(venue)
    rig.wait_connected()
    rig.sim.set_price(rig.instrument, 21012.5)

    def ticks() -> list[Tick]:
        return [e.body for e in read_stream(rig.client, rig.names.md_raw(venue)) if isinstance(e.body, Tick)]

    wait_for(lambda: any(t.last == 21012.5 for t in ticks()), what="tick at the new price")
    tick = next(t for t in ticks() if t.last == 21012.5)
    assert (tick.venue, tick.symbol, tick.bid, tick.ask) == (venue, rig.instrument, 21012.5, 21012.5)


def test_resting_limit_order_is_cancelled(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory("nt8")
    rig.wait_connected()
    rig.sim.set_price(rig.instrument, 21000.0)
    order = rig.order(qty=1, order_type=OrderType.LIMIT, limit_price=20950.0)
    rig.send(order)
    wait_for(lambda: rig.fills(order.client_order_id), what="accepted")
    cancel = Cancel(client_order_id=order.client_order_id, venue="nt8", reason="test")
    xadd(rig.client, rig.names.orders("nt8"), Envelope.new(cancel, id=f"{order.client_order_id}:cancel"))
    wait_for(
        lambda: any(f.status is OrderStatus.CANCELLED for f in rig.fills(order.client_order_id)),
        what="cancel",
    )
    assert [f.status for f in rig.fills(order.client_order_id)] == [
        OrderStatus.ACCEPTED,
        OrderStatus.CANCELLED,
    ]
    state = rig.sim.venue.order(order.client_order_id)
    assert state is not None
    assert state.status is OrderStatus.CANCELLED


def test_refusals_become_rejected_fills_with_the_reason(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory("nt8")
    rig.wait_connected()
    fok = rig.order(qty=1).replace(time_in_force=TimeInForce.FOK)  # NinjaTrader has no FOK
    unknown = rig.order(qty=1).replace(venue_symbol="ZZ 03-25")  # the platform does not know it
    rig.send(fok)
    rig.send(unknown)
    for coid in (fok.client_order_id, unknown.client_order_id):
        wait_for(lambda c=coid: rig.fills(c), what=f"rejection of {coid}")  # type: ignore[misc]
    [r1], [r2] = rig.fills(fok.client_order_id), rig.fills(unknown.client_order_id)
    assert r1.status is OrderStatus.REJECTED
    assert "fok" in (r1.reason or "")
    assert r2.status is OrderStatus.REJECTED
    assert "ZZ 03-25" in (r2.reason or "")
    assert rig.sim.venue.orders() == []  # neither reached the engine


def test_a_platform_with_a_wrong_token_is_refused(rig_factory: Callable[..., Rig]) -> None:
    from nexus_nt8.simulator import BridgeSimulator

    rig = rig_factory("nt8")
    rig.wait_connected()
    intruder = BridgeSimulator(
        rig.profile, port=rig.port, token="wrong", venue=rig.sim.venue, backoff_initial_s=5, backoff_max_s=5
    ).start()
    try:
        wait_for(lambda: intruder.closes, what="refusal")
        assert intruder.closes[0] == "hello refused: bad auth token"
        assert intruder.sessions == 0
    finally:
        intruder.stop()
    assert rig.sim.ready  # the real session was not replaced by the refused one
    assert "wrong" not in rig.adapter.log()  # the token is never logged


@pytest.mark.tool("openssl")
def test_tls_session(rig_factory: Callable[..., Rig], tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    client_tls = ssl.create_default_context(
        cafile=str(cert)
    )  # the platform validates the adapter's certificate
    rig = rig_factory("nt8", tls=client_tls, NX_NT8_TLS_CERT=str(cert), NX_NT8_TLS_KEY=str(key))
    rig.wait_connected()
    rig.sim.set_price(rig.instrument, 21000.0)
    order = rig.order(qty=1)
    rig.send(order)
    wait_for(lambda: rig.filled(order.client_order_id), what="a fill over TLS")
    assert "TLS on" in rig.adapter.log()


def test_simulator_runs_as_a_process(services: Services, client: redis.Redis, names: Names) -> None:
    """`python -m nexus_nt8.simulator --profile quantower --port N` dials `python -m nexus_nt8`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    services.start(
        "nexus_nt8",
        name="adapter-quantower",
        NX_VENUE="quantower",
        NX_NT8_PORT=port,
        NX_NT8_AUTH_TOKEN="cli-token",
        NX_TICK_INTERVAL_S="0.05",
    )
    sim = services.start(
        "nexus_nt8.simulator",
        "--profile",
        "quantower",
        "--port",
        port,
        "--step-ticks",
        "0",
        name="sim-quantower",
        NX_NT8_AUTH_TOKEN="cli-token",
    )

    def connected() -> bool:
        raw = client.get(names.control("venue", "quantower"))
        hb = unpack(raw) if raw is not None else None  # type: ignore[arg-type]
        return isinstance(hb, Heartbeat) and bool(hb.venue_connected)

    wait_for(connected, timeout_s=20, what="the simulator process connected")
    sid = new_signal_id()
    order = VenueOrder(
        client_order_id=client_order_id(sid, "qt"),
        signal_id=sid,
        venue="quantower",
        symbol="NQ",
        side=Side.SELL,
        quantity=1,
        venue_symbol="NQH25",
        venue_quantity=1,
    )
    xadd(client, names.orders("quantower"), Envelope.new(order, id=order.client_order_id))
    wait_for(
        lambda: any(
            isinstance(e.body, Fill) and e.body.status is OrderStatus.FILLED
            for e in read_stream(client, names.fills_raw)
        ),
        what="a fill",
    )
    assert sim.alive()
    assert sim.terminate() == 0


@pytest.mark.parametrize("venue", VENUES)
def test_the_kill_switch_flattens_the_account_at_the_platform(
    rig_factory: Callable[..., Rig], venue: str
) -> None:
    rig = rig_factory(venue)
    rig.wait_connected()
    rig.sim.set_price(rig.instrument, 21000.0)
    order = rig.order(qty=3, side=Side.SELL)
    rig.send(order)
    wait_for(lambda: rig.filled(order.client_order_id), what="FILLED fill")
    account = rig.profile.default_account

    def held() -> float:
        return sum(p.quantity for p in rig.sim.venue.positions(account) if p.symbol == rig.instrument)

    [closing] = flatten_and_check(rig.client, rig.names, venue, held)
    assert (closing.side, closing.cum_qty, closing.venue_symbol) == (Side.BUY, 3.0, rig.instrument)


def equity(rig: Rig) -> dict[str, Any]:
    return venue_equity(rig.client, rig.names, rig.venue)


@pytest.mark.parametrize("venue", VENUES)
def test_the_venue_heartbeat_carries_the_account_value_from_its_snapshot(
    rig_factory: Callable[..., Rig], venue: str
) -> None:
    rig = rig_factory(venue)
    rig.wait_connected()
    wait_for(lambda: equity(rig).get("equity_usd") == 100_000.0, what="the starting cash as the equity")
    rig.sim.set_price(rig.instrument, 21000.0)
    buy = rig.order(qty=2)
    rig.send(buy)
    wait_for(lambda: rig.filled(buy.client_order_id), what="the buy filled")
    rig.sim.set_price(rig.instrument, 21010.0)
    sell = rig.order(qty=2, side=Side.SELL)
    rig.send(sell)
    wait_for(lambda: rig.filled(sell.client_order_id), what="the sell filled")
    info = rig.sim.venue.engine.account_info(rig.sim.venue.accounts[0])
    assert float(info.realized_pnl) == 400.0  # 10 points x USD 20 x 2
    detail = wait_for(lambda: (d := equity(rig)).get("equity_usd") == 100_400.0 and d,
                      what="the account's value after the round trip")  # fmt: skip
    assert (detail["equity"], detail["equity_currency"]) == (100_400.0, "USD")
