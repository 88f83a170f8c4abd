"""Level 2 order books from the normalized depth messages (`DepthSnapshot`, `DepthUpdate`). Pure.

The guarantee a reader gets: a book it holds is exactly the venue's book as of `book.seq`, or the book
says it is not (`synced` false) and the reader must get a snapshot. It keeps that by sequence numbers:

- A `DepthSnapshot` replaces the whole book at its `seq`, whatever came before (a venue adapter that
  restarted numbers afresh; the snapshot is the truth).
- A `DepthUpdate` applies only to a book at `update.seq - 1`. One with `seq <= book.seq` is old (a
  repeat, or already inside the snapshot) and is ignored. One further ahead means updates were lost
  (a capped stream trimmed them, the reader started late, a publish failed): the book stops being
  `synced`, and every update is refused until the next snapshot, because applying later changes to a
  book with a hole in it gives a wrong book that looks right.

`apply` says what happened (`BookApplied`) instead of raising, since a gap is an expected event in a
market-data reader's life, not an error. The reader's answer to `BookApplied.RESNAPSHOT` is to ask the
venue's adapter for a fresh snapshot: add the symbol to the set at `resnapshot_key(names, venue)`
(`SADD`); the adapter publishes a `DepthSnapshot` of its own book on `nx:md:raw:{venue}` and removes
the request. Until then the reader keeps refusing updates.

Levels are keyed by price as the venue sent it (prices on a tick grid arrive as the same float each
time); a size of 0 removes a level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from nexus_protocol.enums import Side
from nexus_protocol.messages import BookLevel, DepthChange, DepthSnapshot, DepthUpdate
from nexus_protocol.streams import Names


class BookApplied(StrEnum):
    """What `DepthBook.apply` did with a message."""

    APPLIED = "applied"  # the book moved to the message's seq
    STALE = "stale"  # an old update (seq at or below the book's): ignored, the book is unchanged
    RESNAPSHOT = "resnapshot"  # a gap, or no snapshot yet: the book is not usable until a snapshot


@dataclass(frozen=True, slots=True)
class Gap:
    """Where a sequence broke: the update the book needed and the one that came."""

    expected: int
    got: int


def resnapshot_key(names: Names, venue: str) -> str:
    """The set a reader adds a symbol to when it needs a fresh snapshot of that symbol's book."""
    return names.control("md", venue, "resnapshot")


@dataclass(slots=True)
class DepthBook:
    """One symbol's book at one venue, kept from its snapshot and consecutive updates."""

    venue: str
    symbol: str
    seq: int | None = None  # None until the first snapshot
    synced: bool = False
    gap: Gap | None = None  # the last gap seen (kept for logs after the book resynced)
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)

    def apply(self, message: DepthSnapshot | DepthUpdate) -> BookApplied:
        if (message.venue, message.symbol) != (self.venue, self.symbol):
            theirs, ours = f"{message.venue}/{message.symbol}", f"{self.venue}/{self.symbol}"
            raise ValueError(f"depth for {theirs} applied to the book of {ours}")
        if isinstance(message, DepthSnapshot):
            self.bids = {lv.price: lv.size for lv in message.bids if lv.size > 0}
            self.asks = {lv.price: lv.size for lv in message.asks if lv.size > 0}
            self.seq, self.synced = message.seq, True
            return BookApplied.APPLIED
        if not self.synced or self.seq is None:
            return BookApplied.RESNAPSHOT
        if message.seq <= self.seq:
            return BookApplied.STALE
        if message.seq != self.seq + 1:
            self.gap = Gap(expected=self.seq + 1, got=message.seq)
            self.synced = False
            return BookApplied.RESNAPSHOT
        for change in message.changes:
            self.change(change)
        self.seq = message.seq
        return BookApplied.APPLIED

    def change(self, change: DepthChange) -> None:
        """One level's new size, without sequence bookkeeping (for whoever builds a book itself)."""
        side = self.bids if change.side is Side.BUY else self.asks
        if change.size > 0:
            side[change.price] = change.size
        else:
            side.pop(change.price, None)

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    def levels(self, side: Side, depth: int | None = None) -> tuple[BookLevel, ...]:
        """Best first: bids from the highest price, asks from the lowest."""
        book = self.bids if side is Side.BUY else self.asks
        prices = sorted(book, reverse=side is Side.BUY)
        if depth is not None:
            prices = prices[:depth]
        return tuple(BookLevel(price=p, size=book[p]) for p in prices)

    def best_bid(self) -> BookLevel | None:
        return BookLevel(price=(p := max(self.bids)), size=self.bids[p]) if self.bids else None

    def best_ask(self) -> BookLevel | None:
        return BookLevel(price=(p := min(self.asks)), size=self.asks[p]) if self.asks else None

    def to_snapshot(self, seq: int | None = None, *, venue_ts_ns: int | None = None) -> DepthSnapshot:
        """The book as a snapshot message at `seq` (default: the book's own)."""
        at = self.seq if seq is None else seq
        if at is None:
            raise ValueError(f"the book of {self.venue}/{self.symbol} has no sequence number yet")
        return DepthSnapshot(
            venue=self.venue,
            symbol=self.symbol,
            seq=at,
            bids=self.levels(Side.BUY),
            asks=self.levels(Side.SELL),
            venue_ts_ns=venue_ts_ns,
        )
