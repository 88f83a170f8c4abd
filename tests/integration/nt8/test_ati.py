"""The degraded ATI mode (NX_NT8_MODE=oif) as a process, against a simulated NinjaTrader ATI folder:
order instruction files in, state files out, fills synthesized with deterministic ids."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from nexus_nt8.config import NT8
from nexus_nt8.simulator import AtiSimulator, SimPlatform
from nexus_protocol import Envelope, Fill, Names, OrderStatus, Side, VenueOrder
from nexus_protocol.enums import OrderType
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_protocol.messages import Cancel
from nexus_testing import REPO_ROOT, ServiceProcess, Services, read_stream, venue_connected, wait_for, xadd

INSTRUMENT = "NQ 03-25"


@dataclass
class AtiRig:
    folder: Path
    sim: AtiSimulator
    adapter: ServiceProcess
    services: Services
    client: redis.Redis
    names: Names

    def start_adapter(self, submit_timeout_s: float = 3.0, **env: str) -> ServiceProcess:
        self.adapter = self.services.start(
            "nexus_nt8",
            name="adapter-nt8-oif",
            NX_VENUE="nt8",
            NX_NT8_MODE="oif",
            NX_NT8_ATI_DIR=str(self.folder),
            NX_TICK_INTERVAL_S="0.05",
            NX_NT8_SUBMIT_TIMEOUT_S=str(submit_timeout_s),
            NX_NT8_ATI_GRACE_S="0.5",
            **env,
        )
        return self.adapter

    def order(self, qty: float = 2.0, **kw: object) -> VenueOrder:
        sid = new_signal_id()
        return VenueOrder(
            client_order_id=client_order_id(sid, "n8"),
            signal_id=sid,
            venue="nt8",
            symbol="NQ",
            side=Side.BUY,
            quantity=qty,
            venue_symbol=INSTRUMENT,
            contract="NQH25",
            venue_quantity=qty,
            point_value=20.0,
            **kw,
        )  # type: ignore[arg-type]

    def send(self, msg: VenueOrder | Cancel) -> None:
        eid = msg.client_order_id if isinstance(msg, VenueOrder) else f"{msg.client_order_id}:cancel"
        xadd(self.client, self.names.orders("nt8"), Envelope.new(msg, id=eid))

    def fills(self, coid: str) -> list[Fill]:
        return [
            e.body
            for e in read_stream(self.client, self.names.fills_raw)
            if isinstance(e.body, Fill) and e.body.client_order_id == coid
        ]

    def wait_filled(self, coid: str, timeout_s: float = 10) -> list[Fill]:
        wait_for(
            lambda: any(f.status is OrderStatus.FILLED for f in self.fills(coid)), timeout_s, what="FILLED"
        )
        return self.fills(coid)


def _rig(
    tmp_path: Path,
    client: redis.Redis,
    names: Names,
    services: Services,
    *,
    fill_parts: int = 1,
    step_interval_s: float = 0.05,
) -> AtiRig:
    folder = tmp_path / "NinjaTrader 8"
    venue = SimPlatform(NT8, config_dir=REPO_ROOT / "deploy" / "config", step_ticks=0, fill_parts=fill_parts)
    sim = AtiSimulator(folder, venue, step_interval_s=step_interval_s).start()
    rig = AtiRig(folder, sim, None, services, client, names)  # type: ignore[arg-type]
    rig.start_adapter()
    sim.set_price(INSTRUMENT, 21000.0)
    return rig


@pytest.fixture
def ati(tmp_path: Path, client: redis.Redis, names: Names, services: Services) -> Iterator[AtiRig]:
    rig = _rig(tmp_path, client, names, services)
    yield rig
    rig.sim.stop()


def test_market_order_through_order_instruction_files(ati: AtiRig) -> None:
    order = ati.order(qty=2)
    ati.send(order)
    fills = ati.wait_filled(order.client_order_id)
    assert [f.status for f in fills] == [OrderStatus.FILLED]  # the ATI shows the latest state only
    fill = fills[-1]
    assert fill.synthetic
    assert fill.fill_id.endswith(f"x:ati-{order.client_order_id}-2")
    assert (fill.last_qty, fill.last_price, fill.cum_qty) == (2.0, 21000.0, 2.0)
    state = (ati.folder / "outgoing" / f"{order.client_order_id}.txt").read_text().strip()
    assert state == "FILLED;2;21000"
    assert (
        ati.folder / "outgoing" / f"{INSTRUMENT} Globex_Sim101_Position.txt"
    ).read_text().strip() == "LONG;2;21000"
    ati.send(order)  # replayed: looked up by ORDER ID (its state file), never written again
    wait_for(
        lambda: (
            int(ati.client.xpending(ati.names.orders("nt8"), "adapter-nt8")["pending"]) == 0
            and ati.client.xinfo_groups(ati.names.orders("nt8"))[0]["entries-read"] == 2
        ),
        what="replay handled",
    )
    assert ati.fills(order.client_order_id) == fills
    assert ati.sim.commands == 1
    assert not ati.sim.ignored


def test_partial_fills_are_synthesized_from_the_cumulative_quantity(
    tmp_path: Path, client: redis.Redis, names: Names, services: Services
) -> None:
    rig = _rig(tmp_path, client, names, services, fill_parts=2, step_interval_s=1.5)  # far apart: 2 polls
    try:
        order = rig.order(qty=2)
        rig.send(order)
        parts = [f for f in rig.wait_filled(order.client_order_id) if f.last_qty > 0]
        assert [(f.status, f.last_qty, f.cum_qty, f.fill_id.rsplit("-", 1)[1]) for f in parts] == [
            (OrderStatus.PARTIALLY_FILLED, 1.0, 1.0, "1"),
            (OrderStatus.FILLED, 1.0, 2.0, "2"),
        ]
    finally:
        rig.sim.stop()


def test_cancel_through_order_instruction_files(ati: AtiRig) -> None:
    order = ati.order(qty=1, order_type=OrderType.LIMIT, limit_price=20900.0)
    ati.send(order)
    wait_for(lambda: ati.fills(order.client_order_id), what="accepted")
    ati.send(Cancel(client_order_id=order.client_order_id, venue="nt8", reason="test"))
    wait_for(
        lambda: any(f.status is OrderStatus.CANCELLED for f in ati.fills(order.client_order_id)),
        what="cancel",
    )
    assert [f.status for f in ati.fills(order.client_order_id)] == [
        OrderStatus.ACCEPTED,
        OrderStatus.CANCELLED,
    ]


def test_adapter_sigkilled_between_submit_and_fill_finds_the_fill_in_the_state_file(ati: AtiRig) -> None:
    order = ati.order(qty=2, order_type=OrderType.LIMIT, limit_price=20995.0)
    ati.send(order)
    wait_for(lambda: ati.fills(order.client_order_id), what="accepted (resting)")
    ati.adapter.sigkill()
    ati.sim.set_price(INSTRUMENT, 20990.0)  # fills while the adapter is dead
    ati.start_adapter()
    fills = ati.wait_filled(order.client_order_id, timeout_s=15)
    assert [f.status for f in fills] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert len(ati.sim.venue.orders()) == 1
    assert ati.sim.commands == 1


@pytest.mark.slow
def test_an_order_written_while_ninjatrader_is_not_reading_is_placed_once_it_reads(
    tmp_path: Path, client: redis.Redis, names: Names, services: Services
) -> None:
    folder = tmp_path / "NinjaTrader 8"
    venue = SimPlatform(NT8, config_dir=REPO_ROOT / "deploy" / "config", step_ticks=0)
    sim = AtiSimulator(folder, venue)  # not started: NinjaTrader is busy or closed
    rig = AtiRig(folder, sim, None, services, client, names)  # type: ignore[arg-type]
    rig.start_adapter(submit_timeout_s=0.5)
    venue.set_price(INSTRUMENT, 21000.0)
    order = rig.order(qty=1)
    rig.send(order)
    wait_for(
        lambda: f"unknown outcome for {order.client_order_id}" in rig.adapter.log(), what="submit timed out"
    )
    assert (folder / "incoming" / f"oifnx-{order.client_order_id}-place.txt").exists()  # waiting, whole
    sim.start()
    try:
        fills = rig.wait_filled(order.client_order_id)
        assert [f.status for f in fills] == [OrderStatus.FILLED]
        assert sim.commands == 1
        assert len(venue.orders()) == 1
    finally:
        sim.stop()


def test_an_order_ninjatrader_lost_before_acknowledging_it_is_rejected_within_the_ack_timeout(
    ati: AtiRig,
) -> None:
    """NinjaTrader takes the order (SUBMITTED), then restarts before accepting it and clears its outgoing
    folder: the leg is looked up once its acknowledgement is overdue, not found, and rejected."""
    ati.sim.stop()  # NinjaTrader is played by the test for this order
    ati.adapter.terminate(timeout_s=10)
    ati.start_adapter(NX_ACK_TIMEOUT_S="1")
    wait_for(lambda: venue_connected(ati.client, ati.names, "nt8"), timeout_s=15, what="the adapter up")
    order = ati.order(qty=1)
    ati.send(order)
    coid = order.client_order_id
    place = ati.folder / "incoming" / f"oifnx-{coid}-place.txt"
    wait_for(place.exists, what="the order instruction file")
    place.unlink()  # NinjaTrader read it...
    state = ati.folder / "outgoing" / f"{coid}.txt"
    state.write_text("SUBMITTED;0;0\n")  # ...and took it, without accepting it yet
    time.sleep(0.5)
    assert ati.fills(coid) == []  # taken, not acknowledged: nothing to report
    state.unlink()  # NinjaTrader restarts: its outgoing folder is cleared, the order is gone
    [rejected] = wait_for(
        lambda: [f for f in ati.fills(coid) if f.status.terminal], timeout_s=10, what="the leg final"
    )
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.reason == "sent to nt8, never acknowledged, and not found there; not resent"
    time.sleep(0.5)
    assert len(ati.fills(coid)) == 1
