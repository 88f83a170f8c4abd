"""Market data through the Bookmap adapter as a process: the real add-on on the real `bookmap` package,
started by the simulated Bookmap host; readers on nx:md:raw:bookmap rebuild the book with
nexus_protocol.book.DepthBook and resnapshot after a gap."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from bookmap_rig import ALIAS, BookmapRig

from nexus_protocol import Names
from nexus_protocol.book import BookApplied, DepthBook, resnapshot_key
from nexus_protocol.codec import Envelope, decode
from nexus_protocol.enums import Side
from nexus_protocol.messages import DepthSnapshot, DepthUpdate, Message, Tick
from nexus_testing import wait_for


class Reader:
    """Reads nx:md:raw:bookmap from the start, as a market-data consumer would with XREAD."""

    def __init__(self, client: redis.Redis, names: Names) -> None:
        self.client, self.stream, self.last = client, names.md_raw("bookmap"), "0-0"

    def read(self) -> list[Envelope[Message]]:
        reply: Any = self.client.xread({self.stream: self.last}, count=10_000)
        out = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                self.last = entry_id.decode()
                out.append(decode(fields))
        return out


def sim_book(rig: BookmapRig) -> tuple[dict[float, float], dict[float, float]]:
    depth = rig.host.venue.market.depth(ALIAS)
    return {lv.price: lv.size for lv in depth.bids}, {lv.price: lv.size for lv in depth.asks}


def settle(rig: BookmapRig) -> None:
    """Stop the market and give the add-on and the adapter time to pass the last changes on."""
    rig.host.pause()
    time.sleep(0.5)


def test_ticks_and_a_depth_snapshot_then_consecutive_updates(
    bookmap_rig: Callable[..., BookmapRig], client: redis.Redis, names: Names
) -> None:
    rig = bookmap_rig().start()
    reader = Reader(client, names)
    seen: list[Message] = []

    def enough() -> bool:
        seen.extend(e.body for e in reader.read())
        return len([m for m in seen if isinstance(m, DepthUpdate)]) >= 20

    wait_for(enough, timeout_s=15, what="depth updates")
    settle(rig)
    seen += [e.body for e in reader.read()]
    l2 = [m for m in seen if isinstance(m, DepthSnapshot | DepthUpdate)]
    assert isinstance(l2[0], DepthSnapshot)  # a reader from the start gets the book first
    assert [m.seq for m in l2] == list(range(l2[0].seq, l2[0].seq + len(l2)))
    book = DepthBook("bookmap", ALIAS)
    assert all(book.apply(m) is BookApplied.APPLIED for m in l2)
    assert (book.bids, book.asks) == sim_book(rig)  # the reader's book is Bookmap's book
    ticks = [m for m in seen if isinstance(m, Tick)]
    quotes = [t for t in ticks if t.bid is not None and t.ask is not None]
    trades = [t for t in ticks if t.last_size]
    assert quotes, "top-of-book ticks"
    assert trades, "trade ticks"
    assert all(t.venue == "bookmap" and t.symbol == ALIAS for t in ticks)
    assert all(t.last is not None and t.last % 0.25 == 0 for t in trades)
    last_quote = quotes[-1]
    best_bid, best_ask = book.best_bid(), book.best_ask()
    assert best_bid is not None
    assert best_ask is not None
    assert (last_quote.bid, last_quote.ask) == (best_bid.price, best_ask.price)


def test_a_reader_that_lost_an_update_asks_for_a_snapshot_and_resyncs(
    bookmap_rig: Callable[..., BookmapRig], client: redis.Redis, names: Names
) -> None:
    rig = bookmap_rig().start()
    reader = Reader(client, names)
    book = DepthBook("bookmap", ALIAS)
    dropped: list[int] = []
    requested = 0.0
    results: list[BookApplied] = []

    def step() -> bool:
        nonlocal requested
        for env in reader.read():
            msg = env.body
            if not isinstance(msg, DepthSnapshot | DepthUpdate):
                continue
            if isinstance(msg, DepthUpdate) and book.synced and not dropped and msg.seq >= 5:
                dropped.append(msg.seq)  # lost on the way (trimmed, a late reader, a failed publish)
                continue
            result = book.apply(msg)
            results.append(result)
            if result is BookApplied.RESNAPSHOT and not requested:
                client.sadd(resnapshot_key(names, "bookmap"), ALIAS)
                requested = time.monotonic()
        return bool(requested) and book.synced and len(results) > results.index(BookApplied.RESNAPSHOT) + 5

    wait_for(step, timeout_s=15, what="a resnapshot after the lost update")
    assert book.gap is not None
    assert book.gap.expected == dropped[0]
    wait_for(lambda: client.scard(resnapshot_key(names, "bookmap")) == 0, timeout_s=5,
             what="the adapter to take the resnapshot request")  # fmt: skip
    settle(rig)
    step()
    assert book.synced
    assert (book.bids, book.asks) == sim_book(rig)
    best_bid, best_ask = book.best_bid(), book.best_ask()
    assert best_bid is not None
    assert best_ask is not None
    assert best_bid.price < best_ask.price
    assert book.levels(Side.BUY)[0] == best_bid
