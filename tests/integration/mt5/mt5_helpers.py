"""Helpers shared by the MT5 adapter tests (integration, e2e, chaos): the simulated terminals'
accounts, an independent view of a terminal over rpyc (what the terminal really holds), order
builders, the adapter in a thread or as a process, and readers of the streams it writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import rpyc

from nexus_mt5.adapter import Mt5Adapter
from nexus_mt5.config import Mt5Settings
from nexus_mt5.simulator import SimulatorProcess
from nexus_protocol import Envelope, Fill, Names, OrderStatus, OrderType, Side, TimeInForce, VenueOrder
from nexus_protocol.codec import unpack
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_protocol.messages import Cancel, Event, Heartbeat, Tick
from nexus_testing import ServiceProcess, Services, read_stream, wait_for, xadd

REPO = Path(__file__).resolve().parents[3]
ACCOUNTS = {
    "mt5-global": {"login": 7_300_101, "password": "sim", "server": "NexusSim-Global", "code": "mg"},
    "mt5-brazil": {"login": 5_100_201, "password": "sim", "server": "NexusSim-B3", "code": "mb"},
}
CURRENCY = {"mt5-global": "USD", "mt5-brazil": "BRL"}

PLAIN = """
def nx_view(value):
    if hasattr(value, "_asdict"):
        return {k: nx_view(v) for k, v in value._asdict().items()}
    if isinstance(value, tuple):
        return tuple(nx_view(v) for v in value)
    return value
"""


class TerminalView:
    """The terminal as the test sees it, over its own classic connection (not the adapter's code)."""

    def __init__(self, sim: SimulatorProcess) -> None:
        self.conn = sim.connect()
        self.conn.execute("import MetaTrader5 as mt5")
        self.conn.execute(PLAIN)
        self.control = sim.control(self.conn)

    def __call__(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        return rpyc.classic.obtain(self.conn.eval(f"nx_view(mt5.{fn}(*{args!r}, **{kwargs!r}))"))

    def reset(self) -> TerminalView:
        self.control.reset()
        assert self("initialize")
        self.control.set_market_open(True)
        return self

    def orders_with(self, comment: str) -> list[dict[str, Any]]:
        """Every order (working or finished) carrying `comment`: the no-duplicate check."""
        now = int(time.time())
        found = [*self("orders_get"), *self("history_orders_get", now - 86_400, now + 86_400)]
        return [o for o in found if o["comment"] == comment]

    def deals_with(self, comment: str) -> list[dict[str, Any]]:
        now = int(time.time())
        return [d for d in self("history_deals_get", now - 86_400, now + 86_400) if d["comment"] == comment]

    def close(self) -> None:
        self.conn.close()


def new_order(
    venue: str,
    venue_symbol: str,
    qty: float,
    side: Side = Side.BUY,
    *,
    symbol: str | None = None,
    order_type: OrderType = OrderType.MARKET,
    limit_price: float | None = None,
    tif: TimeInForce = TimeInForce.DAY,
) -> VenueOrder:
    sid = new_signal_id()
    root = symbol or (
        "NQ" if venue_symbol == "NAS100" else venue_symbol[:3] if venue == "mt5-brazil" else venue_symbol
    )
    return VenueOrder(
        client_order_id=client_order_id(sid, str(ACCOUNTS[venue]["code"])),
        signal_id=sid,
        venue=venue,
        symbol=root,
        side=side,
        quantity=qty,
        order_type=order_type,
        limit_price=limit_price,
        time_in_force=tif,
        venue_symbol=venue_symbol,
        venue_quantity=qty,
        currency=CURRENCY[venue],
    )


def send(client: redis.Redis, names: Names, order: VenueOrder) -> None:
    xadd(
        client,
        names.orders(order.venue),
        Envelope.new(order, id=order.client_order_id, trace=order.signal_id),
    )


def send_cancel(client: redis.Redis, names: Names, order: VenueOrder) -> None:
    body = Cancel(client_order_id=order.client_order_id, venue=order.venue, reason="test")
    xadd(client, names.orders(order.venue), Envelope.new(body, id=f"cancel:{order.client_order_id}"))


def fills_of(client: redis.Redis, names: Names, coid: str) -> list[Fill]:
    return [
        e.body
        for e in read_stream(client, names.fills_raw)
        if isinstance(e.body, Fill) and e.body.client_order_id == coid
    ]


def final_fill(client: redis.Redis, names: Names, coid: str, timeout_s: float = 10.0) -> list[Fill]:
    """The order's reports once one is terminal."""
    return wait_for(
        lambda: (f := fills_of(client, names, coid)) and f[-1].status.terminal and f,  # type: ignore[no-any-return]
        timeout_s=timeout_s,
        what=f"a terminal report for {coid}",
    )


def events(client: redis.Redis, names: Names, kind: str) -> list[Event]:
    return [
        e.body for e in read_stream(client, names.events) if isinstance(e.body, Event) and e.body.kind == kind
    ]


def ticks(client: redis.Redis, names: Names, venue: str) -> list[Tick]:
    return [e.body for e in read_stream(client, names.md_raw(venue)) if isinstance(e.body, Tick)]


def venue_up(client: redis.Redis, names: Names, venue: str) -> bool:
    raw = client.get(names.control("venue", venue))
    if raw is None:
        return False
    hb = unpack(raw)  # type: ignore[arg-type]
    return isinstance(hb, Heartbeat) and bool(hb.venue_connected)


def orders_done(client: redis.Redis, names: Names, venue: str, count: int) -> bool:
    """`count` entries of nx:orders:{venue} read and acknowledged by the adapter."""
    groups = client.xinfo_groups(names.orders(venue))
    return bool(groups) and groups[0]["entries-read"] == count and int(groups[0]["pending"]) == 0


FAST = {
    "tick_interval_s": 0.05,
    "block_ms": 100,
    "mt5_poll_interval_s": 0.1,
    "mt5_md_interval_s": 0.2,
    "mt5_retry_pause_ms": 10,
    "mt5_deal_wait_ms": 300,
}


def settings(
    venue: str, sim: SimulatorProcess, redis_url: str, namespace: str, tmp: Path, **overrides: Any
) -> Mt5Settings:
    acct = ACCOUNTS[venue]
    values: dict[str, Any] = {
        "venue": venue,
        "redis_url": redis_url,
        "namespace": namespace,
        "config_dir": REPO / "deploy" / "config",
        "data_dir": tmp,
        "mt5_mode": "rpyc",
        "mt5_port": sim.port,
        "mt5_login": acct["login"],
        "mt5_password": acct["password"],
        "mt5_server": acct["server"],
        **FAST,
        **overrides,
    }
    return Mt5Settings(**values)


def env(venue: str, sim: SimulatorProcess, **overrides: str) -> dict[str, str]:
    """The adapter process's environment (NX_*) for one simulated terminal."""
    acct = ACCOUNTS[venue]
    values = {
        "NX_VENUE": venue,
        "NX_MT5_MODE": "rpyc",
        "NX_MT5_PORT": str(sim.port),
        "NX_MT5_LOGIN": str(acct["login"]),
        "NX_MT5_PASSWORD": str(acct["password"]),
        "NX_MT5_SERVER": str(acct["server"]),
    }
    values.update({f"NX_{k.upper()}": str(v) for k, v in FAST.items()})
    values.update(overrides)
    return values


def start_adapter(
    services: Services, venue: str, sim: SimulatorProcess, *, name: str | None = None, **overrides: str
) -> ServiceProcess:
    return services.start("nexus_mt5", name=name or f"adapter-{venue}", **env(venue, sim, **overrides))


@contextmanager
def running(adapter: Mt5Adapter, client: redis.Redis, names: Names) -> Iterator[Mt5Adapter]:
    """The adapter's loop in a thread, until the block ends; waits for its venue heartbeat."""
    thread = threading.Thread(target=adapter.run, name=f"adapter-{adapter.venue}", daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: venue_up(client, names, adapter.venue), timeout_s=10, what="the adapter's venue heartbeat"
        )
        yield adapter
    finally:
        adapter.stop()
        thread.join(10)


def statuses(fills: list[Fill]) -> list[OrderStatus]:
    return [f.status for f in fills]
