"""The simulated market: one price source per instrument, top of book, generated depth, sessions.

Guarantees:
- Deterministic: a random walk draws from its own `random.Random` seeded with `"{seed}:{symbol}"`, so the
  same seed gives the same prices whatever other instruments exist or in which order they were added,
  and depth is a pure function of (seed, symbol, quote). `step` is the only thing that moves a walk.
- On the grid: walk prices are whole ticks (see `instruments`), bid < ask always.
- Synchronous: nothing happens between calls; the platform simulator decides when to `step` and with
  what time (from its `SimClock`), then lets the matching engine `process` against the new quotes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Protocol

from nexus_sim.clock import SimClock, SystemClock
from nexus_sim.instruments import InstrumentSpec
from nexus_sim.model import Depth, DepthLevel, Quote

Session = bool | Callable[[int], bool]  # a fixed open/closed flag, or open-at(ts_ns)


class UnknownSymbolError(KeyError):
    """The market has no instrument with this symbol."""

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self.symbol = symbol


class _Source(Protocol):
    quote: Quote  # current top of book; set directly to override (set_price/set_quote)

    def advance(self, now_ns: int) -> list[Quote]: ...

    @property
    def exhausted(self) -> bool: ...


class _RandomWalk:
    """A seeded walk of the bid in whole ticks; ask = bid + spread; the last trade hits bid or ask."""

    def __init__(self, spec: InstrumentSpec, seed: int, now_ns: int) -> None:
        self._spec = spec
        self._rng = random.Random(f"{seed}:{spec.symbol}")
        last_ticks = spec.to_ticks(spec.start_price)
        bid_ticks = max(1, last_ticks - spec.spread_ticks // 2)
        self.quote = Quote(
            symbol=spec.symbol,
            bid=spec.from_ticks(bid_ticks),
            ask=spec.from_ticks(bid_ticks + spec.spread_ticks),
            last=spec.from_ticks(last_ticks),
            bid_size=spec.base_size,
            ask_size=spec.base_size,
            last_size=0.0,
            ts_ns=now_ns,
        )

    @property
    def exhausted(self) -> bool:
        return False

    def advance(self, now_ns: int) -> list[Quote]:
        spec, rng = self._spec, self._rng
        # Always draw the same number of values per step so one step's outcome never shifts the next.
        move = rng.randint(-spec.step_ticks, spec.step_ticks)
        buyer_initiated = rng.random() < 0.5
        top = max(1, round(2 * spec.base_size))
        bid_size, ask_size, last_size = (float(rng.randint(1, top)) for _ in range(3))
        bid_ticks = max(1, spec.to_ticks(self.quote.bid) + move)
        ask_ticks = bid_ticks + spec.spread_ticks
        self.quote = Quote(
            symbol=spec.symbol,
            bid=spec.from_ticks(bid_ticks),
            ask=spec.from_ticks(ask_ticks),
            last=spec.from_ticks(ask_ticks if buyer_initiated else bid_ticks),
            bid_size=bid_size,
            ask_size=ask_size,
            last_size=last_size,
            ts_ns=now_ns,
        )
        return [self.quote]


class _Replay:
    """Recorded quotes emitted once their (optionally shifted) time has come."""

    def __init__(self, spec: InstrumentSpec, ticks: Sequence[Quote], shift_ns: int) -> None:
        if not ticks:
            raise ValueError(f"{spec.symbol}: replay needs at least one tick")
        self._ticks = [replace(t, symbol=spec.symbol, ts_ns=t.ts_ns + shift_ns) for t in ticks]
        self._ticks.sort(key=lambda t: t.ts_ns)
        self.quote = self._ticks[0]
        self._next = 1

    @property
    def exhausted(self) -> bool:
        return self._next >= len(self._ticks)

    def advance(self, now_ns: int) -> list[Quote]:
        emitted: list[Quote] = []
        while self._next < len(self._ticks) and self._ticks[self._next].ts_ns <= now_ns:
            emitted.append(self._ticks[self._next])
            self._next += 1
        if emitted:
            self.quote = emitted[-1]
        return emitted


class Market:
    """All simulated instruments of one venue."""

    def __init__(self, *, seed: int = 0, clock: SimClock | None = None) -> None:
        self._seed = seed
        self._clock: SimClock = clock if clock is not None else SystemClock()
        self._specs: dict[str, InstrumentSpec] = {}
        self._sources: dict[str, _Source] = {}
        self._sessions: dict[str, Session] = {}
        self._held: set[str] = set()  # instruments `step` leaves where they are

    def __repr__(self) -> str:
        return f"Market(seed={self._seed}, symbols={list(self._specs)})"

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def clock(self) -> SimClock:
        return self._clock

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._specs)

    # -- instruments ---------------------------------------------------------------------------------

    def add_instrument(
        self,
        spec: InstrumentSpec,
        *,
        ticks: Sequence[Quote] | None = None,
        replay_start_ns: int | None = None,
        session: Session = True,
    ) -> None:
        """Add a random-walk instrument, or a replay of `ticks` (see `replay.load_ticks`).

        `replay_start_ns` shifts the recorded times so the first tick lands at that instant (e.g. the
        clock's now, to replay an old file in real time); by default recorded times are used as is.
        """
        if spec.symbol in self._specs:
            raise ValueError(f"instrument {spec.symbol!r} already added")
        source: _Source
        if ticks is None:
            source = _RandomWalk(spec, self._seed, self._clock.now_ns())
        else:
            shift = (
                0 if replay_start_ns is None or not ticks else replay_start_ns - min(t.ts_ns for t in ticks)
            )
            source = _Replay(spec, ticks, shift)
        self._specs[spec.symbol] = spec
        self._sources[spec.symbol] = source
        self._sessions[spec.symbol] = session

    def has_instrument(self, symbol: str) -> bool:
        return symbol in self._specs

    def instrument(self, symbol: str) -> InstrumentSpec:
        try:
            return self._specs[symbol]
        except KeyError:
            raise UnknownSymbolError(symbol) from None

    def _source(self, symbol: str) -> _Source:
        try:
            return self._sources[symbol]
        except KeyError:
            raise UnknownSymbolError(symbol) from None

    # -- sessions ------------------------------------------------------------------------------------

    def set_session(self, symbol: str, session: Session) -> None:
        """Open/close an instrument (`True`/`False`) or give it a schedule `open_at(ts_ns) -> bool`."""
        self.instrument(symbol)
        self._sessions[symbol] = session

    def is_open(self, symbol: str, ts_ns: int | None = None) -> bool:
        self.instrument(symbol)
        session = self._sessions[symbol]
        if isinstance(session, bool):
            return session
        return bool(session(self._clock.now_ns() if ts_ns is None else ts_ns))

    # -- prices --------------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        return self._source(symbol).quote

    def quotes(self) -> dict[str, Quote]:
        return {symbol: source.quote for symbol, source in self._sources.items()}

    def step(self, now_ns: int | None = None) -> list[Quote]:
        """Advance every instrument not held to `now_ns` (default: the clock) and return the new quotes
        in time order: one per random walk, every recorded tick now due for a replay."""
        now = self._clock.now_ns() if now_ns is None else now_ns
        emitted: list[Quote] = []
        for symbol, source in self._sources.items():
            if symbol not in self._held:
                emitted.extend(source.advance(now))
        emitted.sort(key=lambda q: q.ts_ns)
        return emitted

    @property
    def exhausted(self) -> bool:
        """True when every instrument is a replay that has emitted all its ticks."""
        return all(source.exhausted for source in self._sources.values())

    def iter_quotes(
        self, steps: int | None = None, *, interval_ns: int = 1_000_000, start_ns: int | None = None
    ) -> Iterator[Quote]:
        """Quotes from `steps` successive `step` calls at `start_ns + k * interval_ns` (offline use:
        the clock is not consulted after the start). Without `steps` it runs until `exhausted`, which
        for a random walk is never."""
        now = self._clock.now_ns() if start_ns is None else start_ns
        count = 0
        while (steps is None and not self.exhausted) or (steps is not None and count < steps):
            yield from self.step(now)
            now += interval_ns
            count += 1

    def hold(self, symbol: str | None = None, held: bool = True) -> tuple[str, ...]:
        """Stop (`held`) or restart an instrument's moves on `step`, every instrument without a symbol:
        a test or an operator sets a price and it stays there. Returns the instruments held now."""
        symbols = {self.instrument(symbol).symbol} if symbol is not None else set(self._specs)
        self._held = self._held | symbols if held else self._held - symbols
        return tuple(sorted(self._held))

    def set_price(self, symbol: str, price: float, *, now_ns: int | None = None) -> Quote:
        """Move an instrument so its last trade is `price` (rounded to the tick) with the instrument's
        spread around it: bid = price - (spread_ticks // 2) ticks, ask = bid + spread_ticks. A walk
        continues from there; a replay until its next recorded tick."""
        spec = self.instrument(symbol)
        last_ticks = spec.to_ticks(price)
        bid_ticks = max(1, last_ticks - spec.spread_ticks // 2)
        return self.set_quote(
            symbol,
            bid=spec.from_ticks(bid_ticks),
            ask=spec.from_ticks(bid_ticks + spec.spread_ticks),
            last=spec.from_ticks(last_ticks),
            now_ns=now_ns,
        )

    def set_quote(
        self,
        symbol: str,
        *,
        bid: float,
        ask: float,
        last: float | None = None,
        bid_size: float | None = None,
        ask_size: float | None = None,
        last_size: float | None = None,
        now_ns: int | None = None,
    ) -> Quote:
        """Set the top of book exactly (prices as given, sizes default to the current ones).

        A locked book (bid == ask) is allowed: tests use it to fill both sides at one price."""
        if bid > ask:
            raise ValueError(f"{symbol}: bid {bid} must not be above ask {ask}")
        source = self._source(symbol)
        current = source.quote
        source.quote = Quote(
            symbol=symbol,
            bid=bid,
            ask=ask,
            last=(bid + ask) / 2 if last is None else last,
            bid_size=current.bid_size if bid_size is None else bid_size,
            ask_size=current.ask_size if ask_size is None else ask_size,
            last_size=current.last_size if last_size is None else last_size,
            ts_ns=self._clock.now_ns() if now_ns is None else now_ns,
        )
        return source.quote

    def depth(self, symbol: str, levels: int | None = None) -> Depth:
        """L2 around the current quote: level 0 is the quote, level i is i ticks further out with a
        size that grows with distance, deterministic for (seed, symbol, quote)."""
        spec = self.instrument(symbol)
        q = self.quote(symbol)
        count = spec.depth_levels if levels is None else levels
        rng = random.Random(f"{self._seed}:{symbol}:{q.ts_ns}:{q.bid}:{q.ask}")
        bid_ticks, ask_ticks = spec.to_ticks(q.bid), spec.to_ticks(q.ask)
        bids = [DepthLevel(q.bid, q.bid_size)]
        asks = [DepthLevel(q.ask, q.ask_size)]
        for i in range(1, count):
            scale = spec.base_size * (1 + 0.5 * i)
            bid_size = float(max(1, round(scale * rng.uniform(0.5, 1.5))))
            ask_size = float(max(1, round(scale * rng.uniform(0.5, 1.5))))
            if bid_ticks - i >= 1:
                bids.append(DepthLevel(spec.from_ticks(bid_ticks - i), bid_size))
            asks.append(DepthLevel(spec.from_ticks(ask_ticks + i), ask_size))
        return Depth(symbol=symbol, bids=tuple(bids[:count]), asks=tuple(asks[:count]), ts_ns=q.ts_ns)
