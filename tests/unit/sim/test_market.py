"""The simulated market: seeded random walk, set_price/set_quote, depth, sessions."""

from __future__ import annotations

import pytest

from nexus_sim import InstrumentSpec, ManualClock, Market, UnknownSymbolError

pytestmark = pytest.mark.unit

NQ = InstrumentSpec(symbol="NQZ5", tick_size=0.25, start_price=21000.0, step_ticks=3, spread_ticks=2)
ES = InstrumentSpec(symbol="ESZ5", tick_size=0.25, start_price=6000.0)


def walk(seed: int, symbols: tuple[InstrumentSpec, ...] = (NQ,), steps: int = 200) -> list[tuple[float, ...]]:
    market = Market(seed=seed, clock=ManualClock())
    for spec in symbols:
        market.add_instrument(spec)
    return [
        (q.bid, q.ask, q.last, q.bid_size, q.ask_size, q.last_size)
        for q in market.iter_quotes(steps, start_ns=0)
        if q.symbol == "NQZ5"
    ]


def test_same_seed_same_prices() -> None:
    assert walk(7) == walk(7)


def test_different_seed_different_prices() -> None:
    assert walk(7) != walk(8)


def test_other_instruments_do_not_disturb_a_walk() -> None:
    assert walk(7, (NQ,)) == walk(7, (ES, NQ))


def test_walk_stays_on_the_tick_grid_with_the_configured_spread() -> None:
    market = Market(seed=3, clock=ManualClock())
    market.add_instrument(NQ)
    previous = market.quote("NQZ5")
    for now in range(1, 500):
        (q,) = market.step(now)
        assert q.ts_ns == now
        for price in (q.bid, q.ask, q.last):
            assert NQ.on_tick(price)
        assert q.ask - q.bid == pytest.approx(2 * 0.25)
        assert q.last in (q.bid, q.ask)
        assert abs(NQ.to_ticks(q.bid) - NQ.to_ticks(previous.bid)) <= NQ.step_ticks
        assert 1 <= q.bid_size <= 20
        previous = q


def test_initial_quote_is_built_around_the_start_price() -> None:
    market = Market(seed=0, clock=ManualClock(start_ns=5))
    market.add_instrument(NQ)
    q = market.quote("NQZ5")
    assert (q.bid, q.ask, q.last, q.ts_ns) == (20999.75, 21000.25, 21000.0, 5)
    assert q.mid == 21000.0
    assert q.spread == 0.5


def test_set_price_moves_the_market_deterministically_and_the_walk_continues_from_it() -> None:
    clock = ManualClock()
    market = Market(seed=1, clock=clock)
    market.add_instrument(NQ)
    q = market.set_price("NQZ5", 21500.1)  # rounded to the tick
    assert (q.bid, q.ask, q.last, q.ts_ns) == (21499.75, 21500.25, 21500.0, clock.now_ns())
    assert market.quote("NQZ5") == q
    (after,) = market.step(clock.advance(1))
    assert abs(NQ.to_ticks(after.bid) - NQ.to_ticks(21499.75)) <= NQ.step_ticks


def test_a_held_instrument_stays_where_it_was_set_while_the_others_walk() -> None:
    clock = ManualClock()
    market = Market(seed=1, clock=clock)
    market.add_instrument(NQ)
    market.add_instrument(ES)
    assert market.hold("NQZ5") == ("NQZ5",)
    q = market.set_price("NQZ5", 21500.0)
    moved = market.step(clock.advance(1))
    assert [m.symbol for m in moved] == ["ESZ5"] and market.quote("NQZ5") == q
    assert market.hold() == ("ESZ5", "NQZ5")
    assert market.step(clock.advance(1)) == []
    assert market.hold("NQZ5", held=False) == ("ESZ5",)
    assert [m.symbol for m in market.step(clock.advance(1))] == ["NQZ5"]
    with pytest.raises(UnknownSymbolError):
        market.hold("CLZ5")


def test_set_quote_is_exact_and_checks_the_book() -> None:
    market = Market(seed=1, clock=ManualClock())
    market.add_instrument(NQ)
    q = market.set_quote("NQZ5", bid=100.0, ask=101.0, last=100.5, bid_size=3, ask_size=4, last_size=1)
    assert (q.bid, q.ask, q.last, q.bid_size, q.ask_size, q.last_size) == (100.0, 101.0, 100.5, 3, 4, 1)
    locked = market.set_quote("NQZ5", bid=101.0, ask=101.0)  # a locked book is allowed
    assert (locked.bid, locked.ask) == (101.0, 101.0)
    with pytest.raises(ValueError, match="not be above ask"):
        market.set_quote("NQZ5", bid=101.25, ask=101.0)


def test_depth_is_generated_around_the_quote_and_deterministic() -> None:
    def depth_of(seed: int) -> object:
        market = Market(seed=seed, clock=ManualClock())
        market.add_instrument(NQ)
        market.step(10)
        return market.depth("NQZ5")

    market = Market(seed=9, clock=ManualClock())
    market.add_instrument(NQ)
    market.step(10)
    depth = market.depth("NQZ5")
    q = market.quote("NQZ5")
    assert len(depth.bids) == len(depth.asks) == NQ.depth_levels
    assert depth.bids[0].price == q.bid
    assert depth.bids[0].size == q.bid_size
    assert depth.asks[0].price == q.ask
    assert depth.asks[0].size == q.ask_size
    assert [lvl.price for lvl in depth.bids] == [q.bid - 0.25 * i for i in range(NQ.depth_levels)]
    assert [lvl.price for lvl in depth.asks] == [q.ask + 0.25 * i for i in range(NQ.depth_levels)]
    assert all(lvl.size >= 1 for lvl in depth.bids + depth.asks)
    assert depth.ts_ns == q.ts_ns
    assert len(market.depth("NQZ5", levels=2).bids) == 2
    assert depth_of(9) == depth


def test_sessions_flag_and_schedule() -> None:
    clock = ManualClock(start_ns=0)
    market = Market(seed=1, clock=clock)
    market.add_instrument(NQ, session=False)
    market.add_instrument(ES)
    assert not market.is_open("NQZ5")
    assert market.is_open("ESZ5")
    market.set_session("NQZ5", lambda ts: ts % 100 < 50)
    assert market.is_open("NQZ5")
    assert not market.is_open("NQZ5", ts_ns=70)
    clock.advance(60)
    assert not market.is_open("NQZ5")


def test_unknown_symbol_and_duplicate_instrument() -> None:
    market = Market(seed=1, clock=ManualClock())
    market.add_instrument(NQ)
    with pytest.raises(UnknownSymbolError):
        market.quote("NOPE")
    with pytest.raises(KeyError):
        market.instrument("NOPE")
    with pytest.raises(ValueError, match="already"):
        market.add_instrument(NQ)
    assert market.symbols == ("NQZ5",)
    assert market.has_instrument("NQZ5")
    assert not market.has_instrument("NOPE")


def test_instrument_spec_validation_and_tick_math() -> None:
    with pytest.raises(ValueError, match="tick_size"):
        InstrumentSpec(symbol="X", tick_size=0, start_price=1)
    with pytest.raises(ValueError, match="start_price"):
        InstrumentSpec(symbol="X", tick_size=0.1, start_price=0)
    spec = InstrumentSpec(symbol="X", tick_size=0.1, start_price=1, lot_step=0.01)
    assert spec.round_price(1.06) == 1.1
    assert spec.on_tick(0.3)
    assert not spec.on_tick(0.35)
    # Adding 0.1 three times in floats gives 0.30000000000000004; the grid still holds.
    assert spec.from_ticks(spec.to_ticks(0.1 + 0.1 + 0.1)) == 0.3
    assert spec.on_lot(0.03)
    assert spec.on_lot(0.1 + 0.2)
    assert not spec.on_lot(0.015)
