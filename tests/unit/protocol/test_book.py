"""nexus_protocol.book.DepthBook: snapshot, consecutive updates, and the resnapshot signal on a gap."""

from __future__ import annotations

import pytest

from nexus_protocol import Names
from nexus_protocol.book import BookApplied, DepthBook, Gap, resnapshot_key
from nexus_protocol.enums import Side
from nexus_protocol.messages import BookLevel, DepthChange, DepthSnapshot, DepthUpdate


def snapshot(seq: int, bids: dict[float, float], asks: dict[float, float]) -> DepthSnapshot:
    return DepthSnapshot(
        venue="bookmap", symbol="NQH5", seq=seq,
        bids=tuple(BookLevel(price=p, size=s) for p, s in bids.items()),
        asks=tuple(BookLevel(price=p, size=s) for p, s in asks.items()),
    )  # fmt: skip


def update(seq: int, *changes: tuple[Side, float, float]) -> DepthUpdate:
    moves = tuple(DepthChange(side=s, price=p, size=z) for s, p, z in changes)
    return DepthUpdate(venue="bookmap", symbol="NQH5", seq=seq, changes=moves)


def test_updates_apply_in_sequence_and_levels_sort_best_first() -> None:
    book = DepthBook("bookmap", "NQH5")
    assert book.apply(update(1, (Side.BUY, 100.0, 1.0))) is BookApplied.RESNAPSHOT  # nothing to apply it to
    assert book.apply(snapshot(5, {100.0: 2.0, 99.75: 3.0}, {100.25: 4.0})) is BookApplied.APPLIED
    assert book.apply(update(6, (Side.BUY, 100.0, 0.0), (Side.SELL, 100.5, 1.0))) is BookApplied.APPLIED
    assert book.apply(update(7, (Side.BUY, 99.5, 7.0))) is BookApplied.APPLIED
    assert book.seq == 7
    assert book.best_bid() == BookLevel(price=99.75, size=3.0)
    assert book.best_ask() == BookLevel(price=100.25, size=4.0)
    assert [lv.price for lv in book.levels(Side.BUY)] == [99.75, 99.5]
    assert [lv.price for lv in book.levels(Side.SELL, 1)] == [100.25]
    assert book.to_snapshot() == snapshot(7, {99.75: 3.0, 99.5: 7.0}, {100.25: 4.0, 100.5: 1.0})


def test_an_old_update_is_stale_and_changes_nothing() -> None:
    book = DepthBook("bookmap", "NQH5")
    book.apply(snapshot(5, {100.0: 2.0}, {}))
    assert book.apply(update(5, (Side.BUY, 100.0, 9.0))) is BookApplied.STALE
    assert book.apply(update(3, (Side.BUY, 100.0, 9.0))) is BookApplied.STALE
    assert book.bids == {100.0: 2.0}
    assert book.synced


def test_a_gap_stops_the_book_until_a_snapshot() -> None:
    book = DepthBook("bookmap", "NQH5")
    book.apply(snapshot(1, {100.0: 2.0}, {100.25: 1.0}))
    assert book.apply(update(3, (Side.BUY, 100.0, 5.0))) is BookApplied.RESNAPSHOT
    assert (book.synced, book.gap, book.bids) == (False, Gap(expected=2, got=3), {100.0: 2.0})
    assert book.apply(update(4, (Side.BUY, 100.0, 6.0))) is BookApplied.RESNAPSHOT  # still refused
    assert book.apply(snapshot(4, {100.0: 6.0}, {100.25: 1.0})) is BookApplied.APPLIED
    assert book.apply(update(5, (Side.SELL, 100.25, 0.0))) is BookApplied.APPLIED
    assert (book.synced, book.seq, book.asks) == (True, 5, {})


def test_a_snapshot_replaces_the_book_even_with_a_lower_seq() -> None:
    book = DepthBook("bookmap", "NQH5")
    book.apply(snapshot(50, {100.0: 2.0}, {}))
    assert book.apply(snapshot(1, {}, {101.0: 1.0})) is BookApplied.APPLIED  # the adapter restarted
    assert (book.seq, book.bids, book.asks) == (1, {}, {101.0: 1.0})


def test_another_symbols_depth_is_refused() -> None:
    book = DepthBook("bookmap", "ESH5")
    with pytest.raises(ValueError, match="NQH5"):
        book.apply(snapshot(1, {}, {}))


def test_resnapshot_requests_go_to_one_control_key_per_venue() -> None:
    assert resnapshot_key(Names("nx"), "bookmap") == Names("nx").control("md", "bookmap", "resnapshot")
