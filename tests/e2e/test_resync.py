"""Auto-resync against a real platform simulator: the simulated MT5 terminal (its own process) and the
MT5 adapter, with the gateway's core services each in their own process. Someone trades at the
terminal, outside the mesh: with NX_AUTO_RESYNC the difference is booked as an outside trade and a
resync order takes the terminal back to the mesh's position (the mesh's position is the truth); with
the setting off (the default) the `position_mismatch` event is all that happens."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from mesh import Mesh

sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "mt5"))
from mt5_helpers import TerminalView, events, start_adapter, ticks, venue_up

from nexus_mesh.adapter.resync import ResyncRecord
from nexus_mt5.simulator import SimulatorProcess
from nexus_protocol import Fill, Names, OrderStatus
from nexus_testing import ServiceProcess, Services, read_stream, wait_for

VENUE = "mt5-global"
DRIFT = {"NX_POSITION_GRACE_S": "1", "NX_DRIFT_CHECK_INTERVAL_S": "0.5"}
RESYNC_KINDS = ("outside_trade_booked", "resync_sent", "resync_completed", "resync_failed", "resync_deferred",
                "resync_refused")  # fmt: skip


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("global", "--always-open") as s:
        yield s


@pytest.fixture
def view(sim: SimulatorProcess) -> Iterator[TerminalView]:
    v = TerminalView(sim).reset()
    yield v
    v.close()


def adapter(
    services: Services, client: redis.Redis, names: Names, sim: SimulatorProcess, **env: str
) -> ServiceProcess:
    proc = start_adapter(services, VENUE, sim, name=f"adapter-{VENUE}", NX_ENVIRONMENT="dev", **DRIFT, **env)
    wait_for(lambda: venue_up(client, names, VENUE), timeout_s=30, what="the MT5 adapter linked")
    wait_for(lambda: [t for t in ticks(client, names, VENUE) if t.symbol == "NAS100"], what="NAS100 quotes")
    return proc


def buy_by_hand(view: TerminalView, lots: float) -> None:
    done = view("order_send", {"action": 1, "symbol": "NAS100", "volume": lots, "type": 0, "type_filling": 1,
                               "comment": "by hand"})  # fmt: skip
    assert done["retcode"] == 10009


def held(view: TerminalView) -> float:
    return round(
        sum(p["volume"] * (1 if p["type"] == 0 else -1) for p in view("positions_get", "NAS100")), 10
    )


def test_a_trade_outside_the_mesh_is_booked_and_undone_by_a_resync_order(
    client: redis.Redis, names: Names, services: Services, sim: SimulatorProcess, view: TerminalView
) -> None:
    mesh = Mesh(services, client, names, "dev", ()).start()
    first = adapter(services, client, names, sim, NX_AUTO_RESYNC="true")
    buy_by_hand(view, 0.5)

    [mismatch] = wait_for(lambda: events(client, names, "position_mismatch"), what="the difference")
    assert (mismatch.data["platform"], mismatch.data["gateway"]) == (0.5, 0.0)
    [done] = wait_for(lambda: events(client, names, "resync_completed"), timeout_s=30, what="the resync")
    assert done.data["in_line"] is True
    [booked] = events(client, names, "outside_trade_booked")
    [sent] = events(client, names, "resync_sent")
    assert (sent.data["side"], sent.data["quantity"], sent.data["reduce_only"]) == ("sell", 0.5, True)
    assert view("positions_get", "NAS100") == ()  # the by-hand ticket closed: back at the mesh's flat
    assert view.orders_with(sent.client_order_id)  # the resync order, by its client order id
    venue_positions = client.hgetall(names.state("fills", "venue_positions"))
    assert float(venue_positions[f"{VENUE}|NAS100".encode()]) == 0.0

    outside, resync = mesh.final(booked.signal_id), mesh.final(sent.signal_id)
    assert (outside.status, outside.side.value, outside.legs[0].venue_filled_qty) == (
        OrderStatus.FILLED,
        "buy",
        0.5,
    )
    assert (resync.status, resync.side.value, resync.legs[0].venue_filled_qty) == (
        OrderStatus.FILLED,
        "sell",
        0.5,
    )
    [outside_fill] = [f for f in fills(client, names) if f.client_order_id == booked.client_order_id]
    assert outside_fill.synthetic and outside_fill.last_price == booked.data["price"]
    assert [e.kind for e in events_after(client, names)] == []  # nothing deferred, refused or failed

    # killed as if between sending the resync and marking its record sent: the restart redoes both
    # steps with the same ids, so nothing is booked, sent or reported twice
    first.sigkill()
    key = names.state(f"adapter-{VENUE}", "resync")
    unsent = ResyncRecord("NAS100", 0.0, 0.5, booked.data["price"], booked.data["decided_ns"])
    client.hset(key, "NAS100", unsent.dumps())
    adapter(services, client, names, sim, NX_AUTO_RESYNC="true")
    wait_for(lambda: not client.hexists(key, "NAS100"), timeout_s=30, what="the redone resync closed again")
    assert len(view.orders_with(sent.client_order_id)) == 1  # never sent twice
    assert (
        len(events(client, names, "outside_trade_booked")) == len(events(client, names, "resync_sent")) == 1
    )
    assert len([f for f in fills(client, names) if f.client_order_id == booked.client_order_id]) == 1
    assert len(events(client, names, "resync_completed")) == 1
    assert view("positions_get", "NAS100") == ()


def test_with_the_setting_off_the_difference_is_only_reported(
    client: redis.Redis, names: Names, services: Services, sim: SimulatorProcess, view: TerminalView
) -> None:
    adapter(services, client, names, sim)  # NX_AUTO_RESYNC unset: off
    buy_by_hand(view, 0.3)
    [mismatch] = wait_for(lambda: events(client, names, "position_mismatch"), what="the difference")
    assert (mismatch.data["platform"], mismatch.data["gateway"]) == (0.3, 0.0)
    time.sleep(2.0)  # several drift checks later (every 0.5 s): still nothing but the event
    assert [e for k in RESYNC_KINDS for e in events(client, names, k)] == []
    assert fills(client, names) == []
    assert held(view) == 0.3


def fills(client: redis.Redis, names: Names) -> list[Fill]:
    return [e.body for e in read_stream(client, names.fills_raw) if isinstance(e.body, Fill)]


def events_after(client: redis.Redis, names: Names) -> list[object]:
    return [
        e for k in ("resync_deferred", "resync_refused", "resync_failed") for e in events(client, names, k)
    ]
