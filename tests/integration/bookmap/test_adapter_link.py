"""The adapter's WebSocket side against a scripted add-on (a real WebSocket client speaking the schema,
to produce what the real add-on only does under faults): the token check, and a gap in the add-on's own
market data, which freezes the book until a snapshot that the adapter forces by reconnecting the add-on."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from bookmap_rig import TOKEN, BookmapRig
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from nexus_bookmap import addon_protocol as ap
from nexus_protocol import Names
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderStatus, OrderType, Side
from nexus_protocol.ids import client_order_id, new_signal_id
from nexus_protocol.messages import DepthSnapshot, DepthUpdate, Fill, VenueOrder
from nexus_testing import read_stream, wait_for, xadd

ES = "ESH5"


class ScriptedAddon:
    """Connects like the add-on and answers open_orders_query with a complete snapshot of `orders`
    (empty unless a test puts some there); never answers order_submit (a silent Bookmap)."""

    def __init__(self, port: int, token: str = TOKEN, instance: str = "scripted-1") -> None:
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(connect(f"ws://127.0.0.1:{port}/addon"))
        self.closed = threading.Event()
        self.received: list[ap.AddonMessage] = []
        self.orders: list[ap.AddonOrderUpdate] = []
        self.ws.send(
            ap.encode(ap.AddonHello(token=token, addon_version="test", instance_id=instance, can_trade=True))
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                msg = ap.decode(raw)
                self.received.append(msg)
                if isinstance(msg, ap.AddonOrdersQuery):
                    orders = tuple(self.orders)
                    self.send(ap.AddonOrdersSnapshot(request_id=msg.request_id, complete=True, orders=orders,
                                                    executions=(), positions=()))  # fmt: skip
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def send(self, *messages: ap.AddonMessage) -> None:
        for m in messages:
            self.ws.send(ap.encode(m))

    def book(self, seq: int, bids: dict[float, float], asks: dict[float, float]) -> None:
        instrument = ap.AddonInstrument(
            alias=ES, full_name="ES", pips=0.25, size_multiplier=1, instrument_multiplier=50,
            is_crypto=False, can_trade=True, seq=seq,
        )  # fmt: skip
        levels = [
            ap.AddonDepth(alias=ES, is_bid=is_bid, price=p, size=s, seq=seq, snapshot=True)
            for is_bid, side in ((True, bids), (False, asks))
            for p, s in side.items()
        ]
        self.send(instrument, *levels)

    def depth(self, seq: int, price: float, size: float, is_bid: bool = True) -> None:
        self.send(ap.AddonDepth(alias=ES, is_bid=is_bid, price=price, size=size, seq=seq))

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def scripted() -> Iterator[Callable[..., ScriptedAddon]]:
    made: list[ScriptedAddon] = []

    def make(*args: Any, **kw: Any) -> ScriptedAddon:
        made.append(ScriptedAddon(*args, **kw))
        return made[-1]

    yield make
    for s in made:
        s.close()


def l2(client: redis.Redis, names: Names) -> list[DepthSnapshot | DepthUpdate]:
    return [e.body for e in read_stream(client, names.md_raw("bookmap"))
            if isinstance(e.body, DepthSnapshot | DepthUpdate) and e.body.symbol == ES]  # fmt: skip


def test_a_wrong_token_is_refused_and_the_right_one_accepted(
    bookmap_rig: Callable[..., BookmapRig], scripted: Callable[..., ScriptedAddon]
) -> None:
    rig = bookmap_rig()
    rig.start_adapter()
    wait_for(lambda: rig.heartbeat() is not None, what="the adapter's heartbeat")
    intruder = wait_for(lambda: _try(scripted, rig.port, "letmein"), what="the adapter to listen")
    assert intruder.closed.wait(5)
    assert intruder.ws.close_code == 1008
    (error,) = [m for m in intruder.received if isinstance(m, ap.AddonError)]
    assert error.code == "unauthorized"
    assert "letmein" not in error.message
    hb = rig.heartbeat()
    assert hb is not None
    assert not hb.venue_connected
    scripted(rig.port)
    rig.wait_connected(can_trade=True)
    assert rig.adapter is not None
    log = rig.adapter.log()
    assert "unauthorized" in log or "wrong token" in log
    assert "letmein" not in log
    assert TOKEN not in log


def _try(scripted: Callable[..., ScriptedAddon], port: int, token: str) -> ScriptedAddon | None:
    try:
        return scripted(port, token)
    except OSError:
        return None


def test_a_gap_in_the_add_ons_data_freezes_the_book_and_a_reconnect_resyncs_it(
    bookmap_rig: Callable[..., BookmapRig], scripted: Callable[..., ScriptedAddon], client: redis.Redis,
    names: Names,
) -> None:  # fmt: skip
    rig = bookmap_rig(NX_BOOKMAP_RESNAPSHOT_GRACE_S="0.5")
    rig.start_adapter()
    addon = wait_for(lambda: _try(scripted, rig.port, TOKEN), what="the adapter to listen")
    rig.wait_connected()
    addon.book(10, {6000.0: 5.0, 5999.75: 3.0}, {6000.25: 4.0})
    addon.depth(11, 6000.0, 6.0)
    addon.depth(12, 5999.5, 2.0)
    wait_for(lambda: any(isinstance(m, DepthUpdate) for m in l2(client, names)), what="the first update")
    addon.depth(14, 6000.0, 99.0)  # 13 never came: the add-on dropped market data
    addon.depth(15, 5999.75, 99.0)
    assert addon.closed.wait(5), "the adapter reconnects an add-on whose resync does not come"
    before = l2(client, names)
    assert [type(m) for m in before] == [DepthSnapshot, *[DepthUpdate] * (len(before) - 1)]
    assert all(99.0 not in [c.size for c in m.changes] for m in before if isinstance(m, DepthUpdate))

    again = scripted(rig.port)  # the add-on reconnects: every hello is followed by each instrument's book
    again.book(20, {6000.0: 99.0, 5999.75: 99.0}, {6000.25: 4.0})
    again.depth(21, 6000.25, 0.0, is_bid=False)
    wait_for(
        lambda: len(l2(client, names)) >= len(before) + 2, what="a snapshot and an update after the resync"
    )
    snap, update = l2(client, names)[len(before) :][:2]
    assert isinstance(snap, DepthSnapshot)
    assert isinstance(update, DepthUpdate)
    assert (snap.seq, update.seq) == (before[-1].seq + 1, before[-1].seq + 2)
    assert {lv.price: lv.size for lv in snap.bids} == {6000.0: 99.0, 5999.75: 99.0}


@pytest.mark.parametrize("reached_bookmap", [True, False])
def test_a_submit_without_answer_is_an_unknown_outcome_resolved_by_lookup_never_by_resending(
    bookmap_rig: Callable[..., BookmapRig], scripted: Callable[..., ScriptedAddon], client: redis.Redis,
    names: Names, reached_bookmap: bool,
) -> None:  # fmt: skip
    rig = bookmap_rig(NX_BOOKMAP_SUBMIT_TIMEOUT_S="0.5")
    rig.start_adapter()
    addon = wait_for(lambda: _try(scripted, rig.port, TOKEN), what="the adapter to listen")
    rig.wait_connected()
    sid = new_signal_id()
    order = VenueOrder(
        client_order_id=client_order_id(sid, "bm"), signal_id=sid, venue="bookmap", symbol="ES",
        side=Side.BUY, quantity=1, venue_symbol=ES, venue_quantity=1, point_value=50.0,
    )  # fmt: skip
    coid = order.client_order_id
    if reached_bookmap:  # what the add-on will say when asked: Bookmap has it, working
        addon.orders.append(ap.AddonOrderUpdate(
            client_id=coid, order_id="B1", alias=ES, is_buy=True, status=OrderStatus.ACCEPTED,
            venue_status="WORKING", order_type=OrderType.MARKET, size=1, filled=0, avg_price=None,
            limit_price=None, stop_price=None, reason=None, time_ms=0,
        ))  # fmt: skip
    xadd(client, names.orders("bookmap"), Envelope.new(order, id=coid))

    def reports() -> list[Fill]:
        return [e.body for e in read_stream(client, names.fills_raw)
                if isinstance(e.body, Fill) and e.body.client_order_id == coid]  # fmt: skip

    (report,) = wait_for(reports, timeout_s=15, what="the outcome after the lookup")
    if reached_bookmap:
        assert (report.status, report.venue_order_id) == (OrderStatus.ACCEPTED, "B1")
    else:
        assert report.status is OrderStatus.REJECTED
        assert "not resent" in (report.reason or "")
    submits = [m for m in addon.received if isinstance(m, ap.AddonOrderSubmit)]
    assert [m.client_id for m in submits] == [coid]  # sent once, never again
    assert sum(isinstance(m, ap.AddonOrdersQuery) for m in addon.received) >= 2  # on hello, then the lookup
