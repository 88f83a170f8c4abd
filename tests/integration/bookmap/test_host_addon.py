"""The real add-on script on the real `bookmap` package, started by the simulated Bookmap host exactly as
Bookmap starts it, talking to a small WebSocket server that plays the NEXUS adapter. No mocks: every frame
the add-on sends is decoded with the adapter-side schema (`nexus_bookmap.addon_protocol`)."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from nexus_bookmap import addon_protocol as ap
from nexus_bookmap.simulator import ADDON_SCRIPT, BookmapHost, BookmapVenue, SimInstrument
from nexus_protocol.enums import OrderStatus, OrderType
from nexus_sim import InstrumentSpec

COID = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.bm0"
TOKEN = "t0k3n"


class FakeAdapter:
    """The adapter's side: accepts the add-on, records every frame, sends commands; can refuse connections."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[tuple[int, str]] = queue.Queue()
        self.seen: list[tuple[int, ap.AddonMessage]] = []
        self.attempts: list[float] = []
        self.accepting = True
        self.connections = 0
        self.conn: ServerConnection | None = None
        self.server = serve(self._handler, "127.0.0.1", 0, process_request=self._process_request)
        self.port = self.server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.attempts.append(time.monotonic())
        if not self.accepting:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "adapter down\n")
        return None

    def _handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        number, self.conn = self.connections, ws
        try:
            for raw in ws:
                self.inbox.put((number, raw if isinstance(raw, str) else raw.decode()))
        except ConnectionClosed:
            pass

    def send(self, message: ap.AddonMessage) -> None:
        assert self.conn is not None
        self.conn.send(ap.encode(message))

    def expect(self, predicate: Callable[[ap.AddonMessage], bool], what: str, timeout_s: float = 10.0) -> Any:
        """The next frame (in arrival order) that satisfies `predicate`; every frame is schema-checked."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"timed out waiting for {what}; last frames: {[m for _, m in self.seen[-8:]]}")
            try:
                number, text = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            message = ap.decode(text)
            self.seen.append((number, message))
            if predicate(message):
                return message

    def expect_type(self, kind: type[ap.AddonMessage], what: str = "", **fields: Any) -> Any:
        def match(m: ap.AddonMessage) -> bool:
            return isinstance(m, kind) and all(getattr(m, k) == v for k, v in fields.items())

        return self.expect(match, what or f"{kind.__name__} {fields}")

    def drop(self) -> None:
        assert self.conn is not None
        self.conn.close()

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def adapter() -> Iterator[FakeAdapter]:
    fake = FakeAdapter()
    yield fake
    fake.stop()


@pytest.fixture
def start_host(adapter: FakeAdapter) -> Iterator[Callable[..., BookmapHost]]:
    hosts: list[BookmapHost] = []

    def start(*, can_trade: bool = True) -> BookmapHost:
        spec = InstrumentSpec(symbol="NQZ5", tick_size=0.25, start_price=21000.0, point_value=20.0)
        venue = BookmapVenue([SimInstrument(spec=spec, full_name="NQ Dec 25")], can_trade=can_trade)
        host = BookmapHost(venue, tick_interval_s=0.05).start()
        hosts.append(host)
        launch(host, adapter)
        assert host.wait_initialized(15), f"add-on did not initialize: {list(host.addon_log)}"
        return host

    yield start
    for host in hosts:
        host.stop()
        print("\n".join(host.addon_log))  # shown by pytest when the test failed


def launch(host: BookmapHost, adapter: FakeAdapter) -> None:
    host.launch_addon(
        ADDON_SCRIPT,
        env={
            "NX_BOOKMAP_URL": f"ws://127.0.0.1:{adapter.port}/addon",
            "NX_BOOKMAP_TOKEN": TOKEN,
            "NX_BOOKMAP_BACKOFF_INITIAL_S": "0.2",
            "NX_BOOKMAP_BACKOFF_MAX_S": "2",
            "NX_BOOKMAP_HEARTBEAT_S": "1",
        },
    )


def submit(**fields: Any) -> ap.AddonOrderSubmit:
    values: dict[str, Any] = {"client_id": COID, "alias": "NQZ5", "is_buy": True, "size": 2.0}
    values.update(fields)
    return ap.AddonOrderSubmit(**values)


def test_market_data_and_a_filled_order(adapter: FakeAdapter, start_host: Callable[..., BookmapHost]) -> None:
    host = start_host()
    hello = adapter.expect_type(ap.AddonHello)
    assert (hello.token, hello.can_trade, hello.protocol) == (TOKEN, True, ap.PROTOCOL_VERSION)
    instrument = adapter.expect_type(ap.AddonInstrument, alias="NQZ5")
    assert (instrument.pips, instrument.size_multiplier, instrument.instrument_multiplier) == (
        0.25,
        1.0,
        20.0,
    )
    assert instrument.can_trade is True
    depth = adapter.expect_type(ap.AddonDepth, alias="NQZ5")
    assert depth.price % 0.25 == 0
    assert depth.seq > 0
    trade = adapter.expect_type(ap.AddonTrade, alias="NQZ5")
    assert trade.price % 0.25 == 0
    assert trade.size > 0

    adapter.send(submit())
    first = adapter.expect_type(ap.AddonOrderUpdate, client_id=COID)  # Bookmap's, never the add-on's own
    assert (first.status, first.venue_status) == (OrderStatus.PENDING, "PENDING_SUBMIT")
    assert first.order_id is not None
    accepted = adapter.expect_type(ap.AddonOrderUpdate, client_id=COID, status=OrderStatus.ACCEPTED)
    execution = adapter.expect_type(ap.AddonExecution, client_id=COID)
    filled = adapter.expect_type(ap.AddonOrderUpdate, client_id=COID, status=OrderStatus.FILLED)
    assert execution.order_id == accepted.order_id == filled.order_id
    assert (execution.size, execution.is_buy, filled.filled, filled.size) == (2.0, True, 2.0, 2.0)
    assert filled.avg_price == execution.price
    position = adapter.expect(lambda m: isinstance(m, ap.AddonPosition) and m.position == 2.0, "position 2")
    assert position.avg_price == execution.price
    state = host.venue.engine.order_by_client_id(COID)  # Bookmap's clientId carried our id to the venue
    assert state is not None
    assert state.venue_order_id == filled.order_id
    assert state.cum_qty == 2.0

    adapter.send(submit())  # the same client id again: answered from the add-on's records, never resent
    again = adapter.expect_type(ap.AddonOrderUpdate, client_id=COID)
    assert again.status is OrderStatus.FILLED
    adapter.send(ap.AddonOrderCancel(client_id="01JD3ZK6Q9X8V7W5T4S3R2P1N1.bm0"))
    unknown = adapter.expect_type(ap.AddonError, code="unknown_order")
    assert unknown.client_id == "01JD3ZK6Q9X8V7W5T4S3R2P1N1.bm0"
    assert len(host.venue.engine.orders()) == 1


def test_data_only_account_refuses_orders(
    adapter: FakeAdapter, start_host: Callable[..., BookmapHost]
) -> None:
    host = start_host(can_trade=False)
    hello = adapter.expect_type(ap.AddonHello)
    assert hello.can_trade is False
    instrument = adapter.expect_type(ap.AddonInstrument, alias="NQZ5")
    assert instrument.can_trade is False
    adapter.expect_type(ap.AddonDepth, alias="NQZ5")  # market data still flows

    adapter.send(submit(order_type=OrderType.LIMIT, limit_price=20000.0, size=1.0))
    refused = adapter.expect_type(ap.AddonOrderUpdate, client_id=COID)
    assert (refused.status, refused.venue_status, refused.order_id) == (OrderStatus.REJECTED, "REFUSED", None)
    assert refused.reason is not None
    assert "data-only" in refused.reason
    assert host.venue.engine.orders() == []


def test_adapter_disconnect_reconnects_with_backoff_and_replays_held_events(
    adapter: FakeAdapter, start_host: Callable[..., BookmapHost]
) -> None:
    host = start_host()
    first = adapter.expect_type(ap.AddonHello)
    adapter.send(submit(order_type=OrderType.LIMIT, limit_price=20000.0, size=1.0))
    working = adapter.expect_type(ap.AddonOrderUpdate, client_id=COID, status=OrderStatus.ACCEPTED)

    adapter.accepting = False
    attempts_before = len(adapter.attempts)
    adapter.drop()
    deadline = time.monotonic() + 10
    while len(adapter.attempts) < attempts_before + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    host.set_price("NQZ5", 19990.0)  # the resting buy fills while the adapter is away
    host.wait_until(lambda: host.venue.engine.net_position("NQZ5") == 1.0, 5)
    adapter.accepting = True

    second = adapter.expect(lambda m: isinstance(m, ap.AddonHello), "hello after reconnect", timeout_s=15)
    assert second.instance_id == first.instance_id  # same process: nothing was lost
    gaps = [b - a for a, b in itertools.pairwise(adapter.attempts[attempts_before:])]
    assert len(gaps) >= 2, gaps
    assert gaps[0] >= 0.15, gaps
    assert gaps[1] > gaps[0] * 1.3, gaps  # exponential backoff
    snapshot_instrument = adapter.expect_type(ap.AddonInstrument, alias="NQZ5")
    book = adapter.expect(lambda m: isinstance(m, ap.AddonDepth) and m.snapshot, "book snapshot")
    assert book.seq == snapshot_instrument.seq
    execution = adapter.expect_type(ap.AddonExecution, client_id=COID)  # held during the outage
    filled = adapter.expect_type(ap.AddonOrderUpdate, client_id=COID, status=OrderStatus.FILLED)
    assert execution.order_id == working.order_id == filled.order_id

    adapter.send(ap.AddonOrdersQuery(request_id="q-1"))
    snapshot = adapter.expect_type(ap.AddonOrdersSnapshot, request_id="q-1")
    assert snapshot.complete is True
    assert [(o.client_id, o.status, o.filled) for o in snapshot.orders] == [(COID, OrderStatus.FILLED, 1.0)]
    assert [e.exec_id for e in snapshot.executions] == [execution.exec_id]
    assert [p.position for p in snapshot.positions] == [1.0]


def test_bookmap_drop_after_accept_then_restart_recovers_the_fill(
    adapter: FakeAdapter, start_host: Callable[..., BookmapHost]
) -> None:
    host = start_host()
    first = adapter.expect_type(ap.AddonHello)
    host.drop_after_accept()
    adapter.send(submit(is_buy=False, size=1.0))
    accepted = adapter.expect_type(ap.AddonOrderUpdate, client_id=COID, status=OrderStatus.ACCEPTED)
    adapter.expect_type(ap.AddonError, code="bookmap_disconnected")
    proc = host.addon_process
    assert proc is not None
    assert proc.wait(timeout=10) == 2
    assert not any(isinstance(m, ap.AddonExecution) for _, m in adapter.seen)  # the fill report was lost

    launch(host, adapter)  # the user enables the add-on again
    assert host.wait_initialized(15)
    second = adapter.expect(lambda m: isinstance(m, ap.AddonHello), "hello from the new process", 15)
    assert second.instance_id != first.instance_id  # a restart: the adapter must reconcile
    for attempt in range(50):
        adapter.send(ap.AddonOrdersQuery(request_id=f"q-{attempt}"))
        snapshot = adapter.expect_type(ap.AddonOrdersSnapshot, request_id=f"q-{attempt}")
        if snapshot.complete:
            break
        time.sleep(0.1)
    assert snapshot.complete
    (order,) = snapshot.orders
    assert (order.client_id, order.order_id, order.status, order.filled) == (
        COID,
        accepted.order_id,
        OrderStatus.FILLED,
        1.0,
    )
    assert order.avg_price is not None
    assert order.is_buy is False


def test_an_order_bookmap_never_received_is_never_acknowledged_by_the_add_on(
    adapter: FakeAdapter, start_host: Callable[..., BookmapHost]
) -> None:
    """The add-on answers an order_submit only with Bookmap's own update: an order handed to Bookmap just
    after Bookmap went away gets no answer at all (never a 'pending' of the add-on's own), so the adapter
    cannot take it for an order Bookmap has."""
    host = start_host()
    adapter.expect_type(ap.AddonHello)
    adapter.expect_type(ap.AddonInstrument, alias="NQZ5")
    host.drop_connection()  # Bookmap goes away...
    adapter.send(submit())  # ...and the order arrives just after
    adapter.expect_type(ap.AddonError, code="bookmap_disconnected")
    proc = host.addon_process
    assert proc is not None
    assert proc.wait(timeout=10) == 2
    assert not [m for _, m in adapter.seen if isinstance(m, ap.AddonOrderUpdate) and m.client_id == COID]
    assert host.venue.engine.order_by_client_id(COID) is None
