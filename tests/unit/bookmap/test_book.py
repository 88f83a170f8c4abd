"""The adapter's books (nexus_bookmap.book): add-on frames in, normalized L2 and ticks out, pure."""

from __future__ import annotations

from typing import TypeVar

from nexus_bookmap import addon_protocol as ap
from nexus_bookmap.book import BookKeeper, BookState
from nexus_protocol.book import BookApplied, DepthBook
from nexus_protocol.messages import DepthSnapshot, DepthUpdate, Message, Tick

M = TypeVar("M", bound=Message)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def instrument(seq: int) -> ap.AddonInstrument:
    return ap.AddonInstrument(alias="NQH5", full_name="NQ", pips=0.25, size_multiplier=1,
                              instrument_multiplier=20, is_crypto=False, can_trade=True, seq=seq)  # fmt: skip


def depth(seq: int, is_bid: bool, price: float, size: float, snapshot: bool = False) -> ap.AddonDepth:
    return ap.AddonDepth(alias="NQH5", is_bid=is_bid, price=price, size=size, seq=seq, snapshot=snapshot)


def trade(seq: int, price: float, size: float = 1.0) -> ap.AddonTrade:
    return ap.AddonTrade(alias="NQH5", price=price, size=size, is_bid_aggressor=True, seq=seq)


def started(clock: Clock) -> tuple[BookKeeper, list[Message]]:
    keeper = BookKeeper("bookmap", batch_s=0.05, clock=clock)
    out = keeper.instrument(instrument(10))
    out += keeper.depth(depth(10, True, 100.0, 2.0, snapshot=True))
    out += keeper.depth(depth(10, True, 99.75, 3.0, snapshot=True))
    out += keeper.depth(depth(10, False, 100.25, 4.0, snapshot=True))
    return keeper, out


def of(kind: type[M], out: list[Message]) -> list[M]:
    return [m for m in out if isinstance(m, kind)]


def test_the_add_on_snapshot_becomes_one_depth_snapshot_with_its_top_of_book() -> None:
    keeper, out = started(Clock())
    assert out == []  # still receiving: it ends at the next other frame or when the add-on goes quiet
    out = keeper.flush()
    snap, tick = out
    assert isinstance(snap, DepthSnapshot)
    assert (snap.seq, [lv.price for lv in snap.bids], [lv.price for lv in snap.asks]) == (
        1,
        [100.0, 99.75],
        [100.25],
    )
    assert isinstance(tick, Tick)
    assert (tick.bid, tick.ask, tick.bid_size, tick.ask_size) == (100.0, 100.25, 2.0, 4.0)
    assert keeper.state("NQH5") is BookState.LIVE


def test_changes_are_batched_with_consecutive_seq_and_a_reader_rebuilds_the_book() -> None:
    clock = Clock()
    keeper, out = started(clock)
    out += keeper.depth(depth(11, True, 100.0, 5.0))  # ends the snapshot
    out += keeper.depth(depth(12, False, 100.25, 0.0))
    out += keeper.depth(depth(13, False, 100.5, 1.0))
    out += keeper.trade(trade(14, 100.25))  # a trade flushes the batch first
    clock.now = 1.0
    out += keeper.depth(depth(15, True, 100.0, 0.0))
    out += keeper.depth(depth(16, True, 99.5, 1.0))  # past batch_s since the batch began: published
    out += keeper.flush()
    l2 = [m for m in out if isinstance(m, DepthSnapshot | DepthUpdate)]
    assert [m.seq for m in l2] == [1, 2, 3]
    reader = DepthBook("bookmap", "NQH5")
    assert all(reader.apply(m) is BookApplied.APPLIED for m in l2)
    assert reader.bids == {99.75: 3.0, 99.5: 1.0}
    assert reader.asks == {100.5: 1.0}
    assert reader.bids == keeper.book("NQH5").bids  # type: ignore[union-attr]
    trades = [m for m in of(Tick, out) if m.last_size]
    assert [(t.last, t.last_size, t.bid, t.ask) for t in trades] == [(100.25, 1.0, 100.0, 100.5)]


def test_a_gap_in_the_add_on_data_freezes_the_book_until_its_snapshot() -> None:
    clock = Clock()
    keeper, _ = started(clock)
    keeper.flush()
    out = keeper.depth(depth(11, True, 100.0, 5.0))
    out += keeper.depth(depth(13, True, 100.0, 7.0))  # 12 was dropped by the add-on
    out += keeper.depth(depth(14, True, 100.0, 8.0))
    out += keeper.flush()
    assert [m.seq for m in of(DepthUpdate, out)] == [2]  # 11 (before the gap) only
    assert keeper.state("NQH5") is BookState.GAP
    assert keeper.snapshot("NQH5") is None  # no snapshot of a book known to be wrong
    assert keeper.stale_gaps(2.0) == []
    clock.now = 2.5
    assert keeper.stale_gaps(2.0) == ["NQH5"]
    out = keeper.instrument(instrument(20))
    out += keeper.depth(depth(20, True, 100.0, 9.0, snapshot=True))
    out += keeper.depth(depth(21, False, 100.5, 1.0))
    snaps = of(DepthSnapshot, out)
    assert len(snaps) == 1
    assert snaps[0].seq == 3
    assert keeper.state("NQH5") is BookState.LIVE
    assert keeper.stale_gaps(2.0) == []


def test_a_reader_request_gets_a_snapshot_of_the_current_book_with_the_next_seq() -> None:
    keeper, _ = started(Clock())
    keeper.flush()
    keeper.depth(depth(11, True, 100.0, 5.0))  # pending, not published yet
    out = keeper.snapshot("NQH5")
    assert out is not None
    update, snap = [m for m in out if isinstance(m, DepthUpdate | DepthSnapshot)]
    assert (update.seq, snap.seq) == (2, 3)
    assert isinstance(snap, DepthSnapshot)
    assert snap.bids[0].size == 5.0
    keeper.depth(depth(12, True, 100.0, 6.0))
    (nxt, *_) = keeper.flush()
    assert isinstance(nxt, DepthUpdate)
    assert nxt.seq == 4


def test_a_disconnect_publishes_what_was_complete_then_freezes_every_book() -> None:
    keeper, _ = started(Clock())
    keeper.flush()
    keeper.depth(depth(11, True, 100.0, 5.0))
    out = keeper.disconnected()
    assert [m.seq for m in of(DepthUpdate, out)] == [2]
    assert keeper.state("NQH5") is BookState.DOWN
    assert keeper.depth(depth(12, True, 100.0, 6.0)) == []
    assert keeper.stale_gaps(0.0) == []  # a reconnect brings the snapshot; nothing to force


def test_old_frames_after_a_snapshot_are_ignored_and_trades_still_tick() -> None:
    keeper, _ = started(Clock())
    keeper.flush()
    assert keeper.depth(depth(9, True, 100.0, 1.0)) == []  # already in the snapshot
    out = keeper.trade(trade(8, 100.0))
    assert [type(m) for m in out] == [Tick]
    assert keeper.state("NQH5") is BookState.LIVE
    assert keeper.removed("NQH5") == []
    assert keeper.state("NQH5") is None
