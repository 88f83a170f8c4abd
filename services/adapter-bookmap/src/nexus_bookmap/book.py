"""The adapter's order books: the add-on's `instrument`/`depth`/`trade` frames in, normalized market
data out (`DepthSnapshot`, `DepthUpdate`, `Tick`). Pure: no sockets, no Redis; one thread calls it.

What it guarantees to readers of nx:md:raw:{venue}, per symbol (the Bookmap alias):
- L2 messages carry the adapter's own sequence: each `DepthUpdate` is `seq` = previous + 1, and a
  `DepthSnapshot` takes the next number too and replaces the book. So `nexus_protocol.book.DepthBook`
  applies them as they come and sees a gap only if it lost one. (The add-on's `seq` counts trades as
  well as depth events, so it cannot be passed on as is.)
- Nothing is published for a book that is not known to be right. The add-on's frames carry the
  add-on's `seq`; a jump in it means the add-on dropped market data. The book is then frozen (no
  updates) until a fresh snapshot from the add-on arrives; the add-on promises one after every drop,
  and `stale_gaps` names the books still waiting past a grace time so the adapter can force one by
  reconnecting the add-on (the schema has no explicit snapshot request; a new connection always starts
  with every instrument and its full book). A disconnected add-on freezes every book the same way.
- An add-on snapshot (`instrument` with `seq` S, then `depth` frames with `snapshot: true` at S) ends
  at the first other frame, or when the add-on goes quiet (`flush`): it is sent as one batch.
- Depth changes are coalesced into one `DepthUpdate` per batch (the add-on's burst, at most `batch_s`
  old), last size per level wins. A `Tick` follows whenever the top of book changed, and one per trade
  (`last`, `last_size`, with the top of book as it was then).
- `snapshot(alias)` answers a reader's resnapshot request from the adapter's own (right) book.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from nexus_bookmap import addon_protocol as ap
from nexus_protocol.book import DepthBook
from nexus_protocol.enums import Side
from nexus_protocol.messages import DepthChange, DepthUpdate, Message, Tick

log = logging.getLogger(__name__)
_MAX_BATCH_CHANGES = 500


class BookState(StrEnum):
    SNAPSHOT = "snapshot"  # receiving the add-on's snapshot
    LIVE = "live"  # right as of `addon_seq`; updates are published
    GAP = "gap"  # the add-on's seq jumped: frozen until its next snapshot
    DOWN = "down"  # the add-on disconnected: frozen until its next snapshot


@dataclass(slots=True)
class _Alias:
    book: DepthBook
    state: BookState = BookState.DOWN
    addon_seq: int = 0  # the add-on's seq the book is at
    snapshot_seq: int = 0  # the add-on's seq of the snapshot being received
    building: tuple[dict[float, float], dict[float, float]] = field(default_factory=lambda: ({}, {}))
    pending: dict[tuple[Side, float], float] = field(default_factory=dict)
    pending_since: float = 0.0
    frozen_since: float = 0.0
    top: tuple[float | None, float | None, float | None, float | None] | None = None
    last_trade: float | None = None


class BookKeeper:
    """Every alias the add-on attached, kept from its frames; methods return what to publish."""

    def __init__(
        self, venue: str, *, batch_s: float = 0.05, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.venue = venue
        self.batch_s = batch_s
        self._clock = clock
        self._aliases: dict[str, _Alias] = {}
        self.gaps = 0  # add-on sequence gaps seen

    def __repr__(self) -> str:
        states = {a: f"{s.state.value}@{s.book.seq}" for a, s in self._aliases.items()}
        return f"<BookKeeper {self.venue} {states} gaps={self.gaps}>"

    def state(self, alias: str) -> BookState | None:
        entry = self._aliases.get(alias)
        return entry.state if entry is not None else None

    def book(self, alias: str) -> DepthBook | None:
        entry = self._aliases.get(alias)
        return entry.book if entry is not None else None

    # ---- frames from the add-on ------------------------------------------------------------------

    def instrument(self, msg: ap.AddonInstrument) -> list[Message]:
        """An instrument resets its alias's book: the snapshot at `msg.seq` follows."""
        entry = self._aliases.get(msg.alias)
        out = self._settle(msg.alias) if entry is not None else []
        if entry is None:
            entry = self._aliases[msg.alias] = _Alias(book=DepthBook(self.venue, msg.alias))
        entry.state, entry.snapshot_seq, entry.building = BookState.SNAPSHOT, msg.seq, ({}, {})
        return out

    def removed(self, alias: str) -> list[Message]:
        out = self._settle(alias)
        self._aliases.pop(alias, None)
        return out

    def depth(self, msg: ap.AddonDepth) -> list[Message]:
        entry = self._aliases.get(msg.alias)
        if entry is None:
            return []
        if entry.state is BookState.SNAPSHOT and msg.snapshot and msg.seq == entry.snapshot_seq:
            side = entry.building[0] if msg.is_bid else entry.building[1]
            if msg.size > 0:
                side[msg.price] = msg.size
            return []
        out = self._settle(msg.alias)
        if entry.state is not BookState.LIVE or msg.snapshot or msg.seq <= entry.addon_seq:
            return out  # frozen, a stray snapshot level, or already in the snapshot
        if msg.seq != entry.addon_seq + 1:
            return out + self._freeze(msg.alias, BookState.GAP, msg.seq)
        entry.addon_seq = msg.seq
        if not entry.pending:
            entry.pending_since = self._clock()
        key = (Side.BUY if msg.is_bid else Side.SELL, msg.price)
        entry.pending[key] = msg.size
        entry.book.change(DepthChange(side=key[0], price=msg.price, size=msg.size))
        if len(entry.pending) >= _MAX_BATCH_CHANGES or self._clock() - entry.pending_since >= self.batch_s:
            out += self._publish(entry)
        return out

    def trade(self, msg: ap.AddonTrade) -> list[Message]:
        entry = self._aliases.get(msg.alias)
        if entry is None:
            return []
        out = self._settle(msg.alias)
        if entry.state is BookState.LIVE:
            if msg.seq > entry.addon_seq + 1:
                out += self._freeze(msg.alias, BookState.GAP, msg.seq)
            elif msg.seq == entry.addon_seq + 1:
                entry.addon_seq = msg.seq
            out += self._publish(entry)
        live = entry.state is BookState.LIVE
        bid, ask = (entry.book.best_bid(), entry.book.best_ask()) if live else (None, None)
        entry.last_trade = msg.price
        tick = Tick(
            venue=self.venue, symbol=msg.alias, bid=bid.price if bid else None,
            ask=ask.price if ask else None, bid_size=bid.size if bid else None,
            ask_size=ask.size if ask else None, last=msg.price, last_size=msg.size,
            venue_ts_ns=time.time_ns(),
        )  # fmt: skip
        out.append(tick)
        return out

    def disconnected(self) -> list[Message]:
        """The add-on went away: publish what was complete, then freeze every book until a snapshot."""
        out: list[Message] = []
        for alias in list(self._aliases):
            out += self._settle(alias)
            entry = self._aliases[alias]
            if entry.state is BookState.LIVE:
                out += self._publish(entry)
            if entry.state is not BookState.DOWN:
                entry.state, entry.frozen_since = BookState.DOWN, self._clock()
        return out

    def flush(self) -> list[Message]:
        """The add-on is quiet: snapshots in progress are complete; pending changes go out."""
        out: list[Message] = []
        for alias, entry in self._aliases.items():
            out += self._settle(alias)
            if entry.state is BookState.LIVE and entry.pending:
                out += self._publish(entry)
        return out

    # ---- what readers and the adapter ask ----------------------------------------------------------

    def snapshot(self, alias: str) -> list[Message] | None:
        """A fresh `DepthSnapshot` of a live book (None while it is not live: ask again later)."""
        entry = self._aliases.get(alias)
        if entry is None or entry.state is not BookState.LIVE:
            return None
        out = self._publish(entry)
        entry.book.seq = (entry.book.seq or 0) + 1
        return [*out, entry.book.to_snapshot(venue_ts_ns=time.time_ns())]

    def stale_gaps(self, grace_s: float) -> list[str]:
        """Aliases frozen by a gap for longer than `grace_s` (the add-on's own resync did not come)."""
        now = self._clock()
        return [
            a
            for a, e in self._aliases.items()
            if e.state is BookState.GAP and now - e.frozen_since >= grace_s
        ]

    # ---- internals -------------------------------------------------------------------------------

    def _settle(self, alias: str) -> list[Message]:
        """Complete the alias's snapshot in progress, if any: the book becomes live at its seq."""
        entry = self._aliases.get(alias)
        if entry is None or entry.state is not BookState.SNAPSHOT:
            return []
        book = entry.book
        book.bids, book.asks = entry.building
        entry.building, entry.pending = ({}, {}), {}
        entry.state, entry.addon_seq = BookState.LIVE, entry.snapshot_seq
        book.seq, book.synced = (book.seq or 0) + 1, True
        return [book.to_snapshot(venue_ts_ns=time.time_ns()), *self._top(entry, force=True)]

    def _freeze(self, alias: str, state: BookState, got: int) -> list[Message]:
        entry = self._aliases[alias]
        self.gaps += 1
        log.warning("%s: the add-on's market data jumped from seq %d to %d; book frozen until a snapshot",
                    alias, entry.addon_seq, got)  # fmt: skip
        out = self._publish(entry)  # what came before the gap is right
        entry.state, entry.frozen_since = state, self._clock()
        return out

    def _publish(self, entry: _Alias) -> list[Message]:
        if not entry.pending:
            return []
        book = entry.book
        book.seq = (book.seq or 0) + 1
        changes = tuple(DepthChange(side=s, price=p, size=z) for (s, p), z in entry.pending.items())
        entry.pending = {}
        update = DepthUpdate(venue=self.venue, symbol=book.symbol, seq=book.seq, changes=changes,
                             venue_ts_ns=time.time_ns())  # fmt: skip
        return [update, *self._top(entry)]

    def _top(self, entry: _Alias, *, force: bool = False) -> list[Message]:
        bid, ask = entry.book.best_bid(), entry.book.best_ask()
        top = (bid.price if bid else None, ask.price if ask else None,
               bid.size if bid else None, ask.size if ask else None)  # fmt: skip
        if top == entry.top and not force:
            return []
        entry.top = top
        return [Tick(venue=self.venue, symbol=entry.book.symbol, bid=top[0], ask=top[1], bid_size=top[2],
                     ask_size=top[3], last=entry.last_trade, venue_ts_ns=time.time_ns())]  # fmt: skip
