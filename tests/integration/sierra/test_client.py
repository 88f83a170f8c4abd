"""The DTC client against the DTC simulator over TCP: logon, orders, fills, cancel, rejects, recovery."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from typing import Any

import pytest
from sierra_helpers import Connect, client_config, dtc_order, new_coid

from nexus_mesh.adapter import UnknownOutcome
from nexus_protocol.enums import OrderStatus
from nexus_protocol.errors import VenueError
from nexus_sierra.client import DtcClient
from nexus_sierra.dtc.codec import BuySellEnum, OrderTypeEnum
from nexus_sierra.simulator import RunningSimulator
from nexus_testing import wait_for


def test_logon_selects_the_only_account_and_streams_market_data(connect: Connect) -> None:
    c, rec = connect(symbols=("NQH25",))
    assert (c.account, c.server_name, c.sessions) == ("Sim1", "NEXUS DTC simulator", 1)
    tick = wait_for(lambda: rec.ticks[-1] if rec.ticks else None, timeout_s=3, what="a tick")
    assert tick.venue == "sierra"
    assert tick.symbol == "NQH25"
    assert tick.bid < tick.ask


@pytest.mark.parametrize("sim_options", [{"accounts": ("Sim1", "Sim2")}])
def test_an_account_must_be_chosen_when_several_are_offered(connect: Connect) -> None:
    c, _ = connect(wait=False)
    wait_for(
        lambda: c.last_error and "NX_SIERRA_TRADE_ACCOUNT" in c.last_error, timeout_s=3, what="the refusal"
    )
    assert not c.ready
    c2, _ = connect(trade_account="Sim2")
    assert c2.account == "Sim2"


def test_a_wrong_password_is_refused_with_the_servers_text() -> None:
    with RunningSimulator(username="trader", password="secret") as sim:
        c = DtcClient(client_config(sim.port, username="trader", password="wrong"))
        c.start()
        try:
            wait_for(
                lambda: c.last_error and "logon refused" in c.last_error, timeout_s=3, what="the refusal"
            )
            assert "bad username or password" in str(c.last_error)
            assert not c.ready
        finally:
            c.stop()
        ok = DtcClient(client_config(sim.port, username="trader", password="secret"))
        ok.start()
        try:
            assert ok.wait_ready(3), ok.last_error
        finally:
            ok.stop()


def test_a_market_order_is_accepted_then_filled_with_the_venues_execution_id(
    connect: Connect, sim: RunningSimulator
) -> None:
    c, rec = connect()
    coid = new_coid()
    first = c.submit(dtc_order(coid, qty=2))  # the acceptance, and the fill if it came as fast
    acc = first[0]
    assert (acc.status, acc.leaves_qty) == (OrderStatus.ACCEPTED, 2.0)
    fill = wait_for(lambda: [*first[1:], *rec.of(coid)], timeout_s=3, what="the fill")[-1]
    [at_sim] = sim.fills_of(coid)
    assert (fill.status, fill.last_qty, fill.cum_qty, fill.exec_id) == (
        OrderStatus.FILLED,
        2.0,
        2.0,
        at_sim["exec_id"],
    )
    assert fill.venue_order_id == acc.venue_order_id


@pytest.mark.parametrize("sim_options", [{"fill_parts": 3}])
def test_partial_fills_add_up_to_the_order(connect: Connect) -> None:
    c, rec = connect()
    coid = new_coid()
    first = c.submit(dtc_order(coid, qty=3))
    wait_for(
        lambda: any(r.status is OrderStatus.FILLED for r in [*first, *rec.of(coid)]),
        timeout_s=3,
        what="fills",
    )
    fills = [r for r in [*first, *rec.of(coid)] if r.is_fill]
    assert [(f.status, f.last_qty, f.cum_qty) for f in fills] == [
        (OrderStatus.PARTIALLY_FILLED, 1.0, 1.0),
        (OrderStatus.PARTIALLY_FILLED, 1.0, 2.0),
        (OrderStatus.FILLED, 1.0, 3.0),
    ]
    assert len({f.fill_id for f in fills}) == 3


def test_a_resting_order_is_cancelled(connect: Connect, sim: RunningSimulator) -> None:
    c, _ = connect()
    sim.set_price("NQH25", 21000.0)
    coid = new_coid()
    [acc] = c.submit(dtc_order(coid, qty=1, order_type=OrderTypeEnum.LIMIT, price=20000.0))
    assert acc.status is OrderStatus.ACCEPTED
    assert [r.client_order_id for r in c.open_orders()] == [coid]
    [cancelled] = c.cancel(coid)
    assert (cancelled.status, cancelled.cum_qty) == (OrderStatus.CANCELLED, 0.0)
    assert c.open_orders() == []
    assert c.cancel(coid) == []  # refused by Sierra (no longer open): nothing to report


def test_a_reject_carries_sierras_reason(connect: Connect, sim: RunningSimulator) -> None:
    c, _ = connect()
    sim.reject_next(text="insufficient margin for NQH25")
    with pytest.raises(VenueError, match="insufficient margin for NQH25") as info:
        c.submit(dtc_order(new_coid()))
    assert not info.value.retryable
    unknown = new_coid()
    with pytest.raises(VenueError, match="unknown symbol"):
        c.submit(dataclasses.replace(dtc_order(unknown), symbol="ZZZ"))


def test_a_drop_after_acceptance_is_recovered_from_the_fill_history(
    connect: Connect, sim: RunningSimulator
) -> None:
    c, rec = connect()
    sim.drop_after_accept()
    coid = new_coid()
    [acc] = c.submit(dtc_order(coid, qty=2))  # only the acceptance: the drop came before the fill
    assert acc.status is OrderStatus.ACCEPTED
    wait_for(lambda: c.sessions == 2 and c.ready, timeout_s=5, what="the reconnect")
    assert rec.of(coid) == []  # the fill never came live ...
    [recovered] = [r for r in rec.recoveries[-1].reports if r.client_order_id == coid]  # ... but in recovery
    assert (recovered.status, recovered.last_qty, recovered.exec_id) == (
        OrderStatus.FILLED,
        2.0,
        sim.fills_of(coid)[0]["exec_id"],
    )
    assert rec.recoveries[-1].positions == {"NQH25": 2.0}
    assert sim.submits(coid) == 1


def test_a_drop_before_the_answer_is_an_unknown_outcome_the_lookup_resolves(
    connect: Connect, sim: RunningSimulator
) -> None:
    c, rec = connect()
    sim.drop_before_ack()
    coid = new_coid()
    with pytest.raises(UnknownOutcome):
        c.submit(dtc_order(coid, qty=1))
    wait_for(lambda: c.ready and c.sessions == 2, timeout_s=5, what="the reconnect")
    found = c.lookup(coid)
    assert found is not None
    assert [(r.status, r.last_qty) for r in found] == [(OrderStatus.FILLED, 1.0)]
    assert c.lookup(new_coid()) is None  # never sent: not found
    assert sim.submits(coid) == 1
    assert any(r.client_order_id == coid for r in rec.recoveries[-1].reports)


@pytest.mark.parametrize("sim_options", [{"exec_ids": False}])
def test_without_execution_ids_live_and_recovered_fills_still_dedupe(
    connect: Connect, sim: RunningSimulator
) -> None:
    c, rec = connect()
    coid = new_coid()
    first = c.submit(dtc_order(coid, qty=2))
    [live] = wait_for(lambda: [r for r in [*first, *rec.of(coid)] if r.is_fill], timeout_s=3, what="the fill")
    sim.drop_connections()
    wait_for(lambda: c.sessions == 2 and c.ready, timeout_s=5, what="the reconnect")
    [again] = [r for r in rec.recoveries[-1].reports if r.client_order_id == coid]
    assert live.fill_id == again.fill_id == f"{coid}:x:{live.venue_order_id}@2"


@pytest.mark.parametrize("fault", ["missing heartbeats", "silent server"])
def test_a_server_that_stops_heartbeating_is_dead(
    connect: Connect, sim: RunningSimulator, fault: str
) -> None:
    c, _ = connect(heartbeat_interval_s=1, missed_heartbeats=2.0, symbols=("NQH25",))
    if fault == "missing heartbeats":  # market data keeps flowing: it does not count as a heartbeat
        sim.heartbeats("missing")
    else:
        sim.freeze(True)
    wait_for(
        lambda: c.last_error and "no heartbeat" in c.last_error, timeout_s=5, what="the dead-server verdict"
    )
    sim.clear_faults()
    wait_for(lambda: c.ready and c.sessions >= 2, timeout_s=5, what="the reconnect")


def test_slow_heartbeats_within_the_tolerance_keep_the_session(
    connect: Connect, sim: RunningSimulator
) -> None:
    c, _ = connect(heartbeat_interval_s=1, missed_heartbeats=3.0)
    sim.heartbeats("slow", factor=1.5)  # one every 1.5 s; dead only after 3 s of silence
    time.sleep(3.5)
    assert c.ready
    assert c.sessions == 1


def test_a_garbage_frame_is_logged_and_the_client_reconnects(
    connect: Connect, sim: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    c, _ = connect()
    with caplog.at_level(logging.ERROR, logger="nexus_sierra.dtc.connection"):
        sim.inject(b"\x02\x00\x03\x00garbage")  # Size 2: smaller than the header
        wait_for(lambda: c.sessions == 2 and c.ready, timeout_s=5, what="the reconnect")
    assert any("DTC decode error" in r.getMessage() and "Size 2" in r.getMessage() for r in caplog.records)
    assert c.submit(dtc_order(new_coid()))[0].status is OrderStatus.ACCEPTED


def test_the_client_waits_for_a_server_that_is_not_there_yet() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = DtcClient(client_config(port))
    c.start()
    try:
        wait_for(
            lambda: c.last_error and "cannot connect" in c.last_error, timeout_s=3, what="a failed attempt"
        )
        with pytest.raises(VenueError) as info:
            c.submit(dtc_order(new_coid()))
        assert info.value.retryable
        with RunningSimulator(port=port):
            assert c.wait_ready(3), c.last_error
    finally:
        c.stop()


def test_the_simulators_state_outlives_its_clients(connect: Connect, sim: RunningSimulator) -> None:
    c1, _ = connect()
    coid = new_coid()
    c1.submit(dtc_order(coid, qty=1, side=BuySellEnum.SELL))
    c1.stop()
    c2, _ = connect()
    found = c2.lookup(coid)
    assert found is not None
    assert found[-1].status is OrderStatus.FILLED
    rec: Any = c2.reconcile(None)
    assert rec.positions == {"NQH25": -1.0}
