"""Helpers shared by the Sierra tests (integration and chaos): a recording client hook, order
builders, client settings for fast tests, and the simulator and adapter as processes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

import nexus_testing as testing
from nexus_mesh.adapter import Reconciliation, VenueReport
from nexus_mesh.embedded import free_port
from nexus_protocol import Envelope, Fill, Names, OrderStatus, OrderType, Side, TimeInForce, VenueOrder
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_protocol.messages import Tick
from nexus_sierra.client import ClientHooks, DtcClient
from nexus_sierra.config import ClientConfig
from nexus_sierra.dtc.codec import BuySellEnum, OrderTypeEnum, SubmitNewSingleOrder, TimeInForceEnum
from nexus_sierra.mapping import OrderRef
from nexus_sierra.simulator import ControlClient, SimulatorControl
from nexus_testing import ServiceProcess, Services, read_stream, wait_for, xadd

Connect = Callable[..., tuple[DtcClient, "Recorder"]]


class Recorder(ClientHooks):
    """Keeps what the client pushes; remembers order ids in memory (the adapter uses Redis)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reports: list[VenueReport] = []
        self.ticks: list[Tick] = []
        self.recoveries: list[Reconciliation] = []
        self.ids: dict[str, OrderRef] = {}

    def on_reports(self, reports: list[VenueReport]) -> None:
        with self.lock:
            self.reports += reports

    def on_tick(self, tick: Tick) -> None:
        with self.lock:
            self.ticks.append(tick)

    def on_session(self, recovery: Reconciliation) -> None:
        with self.lock:
            self.recoveries.append(recovery)

    def remember(self, server_order_id: str, ref: OrderRef) -> None:
        self.ids[server_order_id] = ref

    def resolve(self, server_order_id: str) -> OrderRef | None:
        return self.ids.get(server_order_id)

    def of(self, coid: str) -> list[VenueReport]:
        with self.lock:
            return [r for r in self.reports if r.client_order_id == coid]

    def everything(self, coid: str) -> list[VenueReport]:
        """Pushed reports plus everything recovered at reconnects, for one order."""
        with self.lock:
            recovered = [r for rec in self.recoveries for r in [*rec.reports, *rec.open_orders]]
            return [r for r in [*self.reports, *recovered] if r.client_order_id == coid]


def new_coid() -> str:
    return client_order_id(new_signal_id(), "sc")


def dtc_order(
    coid: str,
    qty: float = 2.0,
    side: BuySellEnum = BuySellEnum.BUY,
    *,
    account: str = "Sim1",
    order_type: OrderTypeEnum = OrderTypeEnum.MARKET,
    price: float = 0.0,
) -> SubmitNewSingleOrder:
    return SubmitNewSingleOrder(
        symbol="NQH25",
        trade_account=account,
        client_order_id=coid,
        order_type=order_type,
        buy_sell=side,
        price1=price,
        quantity=qty,
        time_in_force=TimeInForceEnum.DAY,
        is_automated_order=True,
    )


def client_config(port: int, **overrides: Any) -> ClientConfig:
    values: dict[str, Any] = {
        "port": port,
        "heartbeat_interval_s": 1,
        "missed_heartbeats": 3.0,
        "reconnect_initial_s": 0.05,
        "reconnect_max_s": 0.4,
        "response_timeout_s": 2.0,
        "connect_timeout_s": 1.0,
    }
    values.update(overrides)
    return ClientConfig(**values)


# ---- processes: the simulator and the adapter, as the mesh runs them -----------------------------


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start_simulator(services: Services, *args: str) -> tuple[ServiceProcess, int, ControlClient]:
    """`python -m nexus_sierra.simulator` on free ports; returns it, its DTC port and its control."""
    port, control_port = free_port(), free_port()
    sp = services.start(
        "nexus_sierra.simulator",
        "--port",
        str(port),
        "--control-port",
        str(control_port),
        "--md-interval-ms",
        "50",
        *args,
        name="dtc-simulator",
    )
    wait_for(lambda: port_open(control_port) or not sp.alive(), timeout_s=15, what="the simulator")
    assert sp.alive(), sp.log()
    return sp, port, ControlClient(control_port)


def start_adapter(services: Services, port: int, **env: str) -> ServiceProcess:
    settings = {
        "NX_SIERRA_PORT": str(port),
        "NX_SIERRA_HEARTBEAT_INTERVAL_S": "1",
        "NX_SIERRA_RECONNECT_INITIAL_S": "0.05",
        "NX_SIERRA_RECONNECT_MAX_S": "0.5",
        "NX_SIERRA_RESPONSE_TIMEOUT_S": "2",
        "NX_TICK_INTERVAL_S": "0.05",
        "NX_SIERRA_SYMBOLS": "NQH25",
    }
    settings.update(env)
    return services.start("nexus_sierra", name="adapter-sierra", **settings)


def venue_connected(client: redis.Redis, names: Names, venue: str = "sierra") -> bool:
    return testing.venue_connected(client, names, venue)


def venue_order(
    qty: float = 2.0,
    *,
    order_type: OrderType = OrderType.MARKET,
    limit: float | None = None,
    side: Side = Side.BUY,
) -> VenueOrder:
    sid = new_signal_id()
    return VenueOrder(
        client_order_id=client_order_id(sid, "sc"),
        signal_id=sid,
        venue="sierra",
        symbol="NQ",
        side=side,
        quantity=qty,
        venue_symbol="NQH25",
        contract="NQH25",
        venue_quantity=qty,
        order_type=order_type,
        limit_price=limit,
        time_in_force=TimeInForce.GTC,
    )


def send(client: redis.Redis, names: Names, order: VenueOrder) -> None:
    xadd(client, names.orders("sierra"), Envelope.new(order, id=order.client_order_id, trace=order.signal_id))


def fills_of(client: redis.Redis, names: Names, coid: str) -> list[Fill]:
    return [
        e.body
        for e in read_stream(client, names.fills_raw)
        if isinstance(e.body, Fill) and e.body.client_order_id == coid
    ]


def final_fills(client: redis.Redis, names: Names, coid: str) -> list[Fill]:
    return [f for f in fills_of(client, names, coid) if f.status is OrderStatus.FILLED]


def orders_at(control: SimulatorControl, coid: str) -> list[dict[str, Any]]:
    return [o for o in control.stats()["orders"] if o["client_order_id"] == coid]


def settle(seconds: float) -> None:
    """Let late duplicates, if the code had any, reach the stream before counting."""
    time.sleep(seconds)
