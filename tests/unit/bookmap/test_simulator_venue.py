"""The simulated Bookmap connection (no sockets): requests in, Bookmap wire lines out, nexus_sim behind.
Every line is read back with the real `bookmap` package's parser."""

from __future__ import annotations

from typing import Any

import bookmap as bm
import pytest
from bookmap import bookmap as bm_impl

from nexus_bookmap.simulator import BookmapVenue, SimInstrument, wire
from nexus_bookmap.simulator.wire import SEP, T
from nexus_sim import FaultEvent, InstrumentSpec, ManualClock, MatchingConfig

COID = "01JD3ZK6Q9X8V7W5T4S3R2P1N0.bm0"


def parsed(lines: list[str]) -> list[tuple[int, tuple[Any, ...]]]:
    out = []
    for text in lines:
        token = text.split(SEP)[0]
        out.append((int(token), tuple(bm_impl._get_parameters_from_msg(token, text))))
    return out


def kinds(lines: list[str]) -> list[str]:
    names = []
    for kind, params in parsed(lines):
        if kind == T.UPDATE_ORDER:
            names.append(params[0]["status"])
        else:
            names.append(T(kind).name)
    return names


def req(alias: str, req_id: int, data_type: T) -> str:
    return SEP.join(["3", alias, str(req_id), str(int(data_type)), ""])


def send(alias: str, is_buy: bool, size: int, **extra: Any) -> str:
    params = bm.OrderSendParameters(alias, is_buy, size)
    for key, value in extra.items():
        setattr(params, key, value)
    return f"19{SEP}{params.to_json()}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def make_venue(clock: ManualClock, **kwargs: Any) -> BookmapVenue:
    spec = InstrumentSpec(symbol="NQZ5", tick_size=0.25, start_price=21000.0, point_value=20.0)
    return BookmapVenue([SimInstrument(spec=spec, full_name="NQ Dec 25")], clock=clock, **kwargs)


def subscribe_all(venue: BookmapVenue) -> None:
    for i, data_type in enumerate((T.DEPTH, T.TRADE, T.ORDER_INFO, T.POSITION_UPDATE, T.BALANCE_UPDATE)):
        venue.on_line(req("NQZ5", i + 1, data_type))


def test_depth_snapshot_then_diffs_rebuild_the_market_book(clock: ManualClock) -> None:
    venue = make_venue(clock)
    first = venue.on_line(req("NQZ5", 1, T.DEPTH))
    assert parsed(first)[0] == (T.RESP_DATA, (1,))
    book = bm.create_order_book()
    spec = venue.instruments["NQZ5"].spec
    lines = first[1:]
    for _ in range(30):
        for kind, (alias, is_bid, price, size) in parsed(lines):
            assert (kind, alias) == (T.DEPTH, "NQZ5")
            bm.on_depth(book, is_bid, price, size)
        depth = venue.market.depth("NQZ5")
        assert dict(book["bids"]) == {spec.to_ticks(lv.price): round(lv.size) for lv in depth.bids}
        assert dict(book["asks"]) == {spec.to_ticks(lv.price): round(lv.size) for lv in depth.asks}
        clock.advance(ms=100)
        lines = venue.tick()


def test_trades_only_when_subscribed_and_one_per_step(clock: ManualClock) -> None:
    venue = make_venue(clock)
    clock.advance(ms=100)
    assert venue.tick() == []
    venue.on_line(req("NQZ5", 2, T.TRADE))
    clock.advance(ms=100)
    ((kind, (alias, price, size, is_otc, is_bid, *_rest)),) = parsed(venue.tick())
    quote = venue.market.quote("NQZ5")
    assert (kind, alias, price * 0.25, size, is_otc) == (T.TRADE, "NQZ5", quote.last, quote.last_size, False)
    assert is_bid == (quote.last >= quote.ask)


def test_market_order_reports_like_bookmap(clock: ManualClock) -> None:
    venue = make_venue(clock)
    subscribe_all(venue)
    lines = venue.on_line(send("NQZ5", True, 2, client_id=COID))
    assert kinds(lines) == [
        "PENDING_SUBMIT",
        "WORKING",
        "EXECUTE_ORDER",
        "FILLED",
        "POSITION_UPDATE",
        "BALANCE_UPDATE",
    ]
    events = parsed(lines)
    assert {p[0]["clientId"] for k, p in events if k == T.UPDATE_ORDER} == {COID}
    order_id = events[0][1][0]["orderId"]
    alias, execution = events[2][1]
    assert (alias, execution["orderId"], execution["size"]) == ("NQZ5", order_id, 2)
    filled = events[3][1][0]
    assert (filled["filled"], filled["unfilled"], filled["averageFillPrice"]) == (2, 0, execution["price"])
    assert events[4][1][0]["position"] == 2
    assert venue.engine.order_by_client_id(COID) is not None


def test_limit_order_rests_then_cancel(clock: ManualClock) -> None:
    venue = make_venue(clock)
    subscribe_all(venue)
    lines = venue.on_line(send("NQZ5", True, 1, client_id=COID, limit_price=20000.0, duration="DAY"))
    assert kinds(lines) == ["PENDING_SUBMIT", "WORKING"]
    working = parsed(lines)[1][1][0]
    assert (working["type"], working["limitPrice"], working["duration"]) == ("LMT", 20000.0, "DAY")
    cancel = f"23{SEP}NQZ5{SEP}{working['orderId']}{SEP}True{SEP}nan"
    assert kinds(venue.on_line(cancel)) == ["CANCELLED"]
    assert kinds(venue.on_line(cancel)) == ["CANCELLED"]  # cancel of a closed order restates it


def test_data_only_connection_refuses_orders(clock: ManualClock) -> None:
    venue = make_venue(clock, can_trade=False)
    subscribe_all(venue)
    info = venue.instrument_info("NQZ5")
    assert parsed([info])[0][1][6]["trading"] is False
    lines = venue.on_line(send("NQZ5", True, 1, client_id=COID))
    assert kinds(lines) == ["PENDING_SUBMIT", "REJECTED"]
    assert parsed(lines)[1][1][0]["clientId"] == COID
    assert venue.engine.orders() == []


def test_unsupported_orders_are_rejected_and_unknown_aliases_ignored(clock: ManualClock) -> None:
    venue = make_venue(clock)
    subscribe_all(venue)
    stop_limit = venue.on_line(send("NQZ5", True, 1, client_id="a", limit_price=1.0, stop_price=2.0))
    assert kinds(stop_limit) == ["PENDING_SUBMIT", "REJECTED"]
    assert venue.on_line(send("ESZ5", True, 1, client_id="b")) == []
    assert venue.on_line(req("ESZ5", 9, T.DEPTH)) == []
    off_grid = venue.on_line(send("NQZ5", True, 1, client_id="c", limit_price=20000.1))
    assert kinds(off_grid) == ["PENDING_SUBMIT", "REJECTED"]  # the engine's own validation


def test_drop_after_accept_sends_working_then_drops_and_replays_the_fill(clock: ManualClock) -> None:
    venue = make_venue(clock)
    subscribe_all(venue)
    venue.drop_after_accept = 1
    lines = venue.on_line(send("NQZ5", False, 1, client_id=COID))
    assert kinds(lines) == ["PENDING_SUBMIT", "WORKING"]
    assert venue.take_drop() is True
    assert venue.take_drop() is False
    state = venue.engine.order_by_client_id(COID)
    assert state is not None
    assert state.cum_qty == 1.0
    venue.reset_connection()
    replay = venue.on_line(req("NQZ5", 1, T.ORDER_INFO))
    assert kinds(replay) == ["FILLED", "RESP_DATA"]
    assert parsed(replay)[0][1][0]["clientId"] == COID


def test_engine_disconnect_fault_loses_the_reports_of_that_step(clock: ManualClock) -> None:
    venue = make_venue(clock, matching=MatchingConfig(fill_parts=2))
    subscribe_all(venue)
    first = venue.on_line(send("NQZ5", True, 2, client_id=COID))
    assert kinds(first)[-3:] == ["WORKING", "POSITION_UPDATE", "BALANCE_UPDATE"]  # one part filled
    venue.engine.faults.disconnect_on(FaultEvent.BEFORE_FILL)
    venue.on_line(req("NQZ5", 6, T.TRADE))
    clock.advance(ms=100)
    lines = venue.tick()
    assert [k for k in kinds(lines) if k not in ("DEPTH", "TRADE")] == []
    assert venue.take_drop() is True
    state = venue.engine.order_by_client_id(COID)
    assert state is not None
    assert state.cum_qty == 2.0


def test_orders_are_silent_without_an_order_info_subscription(clock: ManualClock) -> None:
    venue = make_venue(clock)
    assert venue.on_line(send("NQZ5", True, 1, client_id=COID)) == []
    assert venue.engine.order_by_client_id(COID) is not None
    assert wire.parse(f"13{SEP}NQZ5") == wire.OtherLine(13, ("NQZ5",))
