"""Tick files (CSV, Parquet) and replay through the market."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_sim import InstrumentSpec, ManualClock, Market, TickFileError, load_ticks, parse_ts_ns

pytestmark = pytest.mark.unit

T0 = 1_700_000_000_000_000_000
CSV = """ts,symbol,bid,ask,last,size
2023-11-14T22:13:20.000000001Z,NQZ5,21000.00,21000.25,21000.25,2
1700000000500000000,NQZ5,21000.25,21000.50,,
2023-11-14T22:13:20.250,ESZ5,6000.00,6000.25,6000.00,5
2023-11-14T19:13:21-03:00,NQZ5,21001.00,21001.25,21001.00,1
"""
NQ = InstrumentSpec(symbol="NQZ5", tick_size=0.25, start_price=21000.0)


@pytest.fixture
def tick_file(tmp_path: Path) -> Path:
    path = tmp_path / "ticks.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def test_parse_ts_ns_formats() -> None:
    assert parse_ts_ns("1700000000000000000") == T0
    assert parse_ts_ns(T0) == T0
    assert parse_ts_ns("2023-11-14T22:13:20Z") == T0
    assert parse_ts_ns("2023-11-14 22:13:20") == T0  # naive means UTC
    assert parse_ts_ns("2023-11-14T22:13:20.123456789+00:00") == T0 + 123_456_789
    assert parse_ts_ns("2023-11-14T23:13:20.5+01:00") == T0 + 500_000_000
    with pytest.raises(TickFileError):
        parse_ts_ns("yesterday")


def test_load_csv_sorted_with_gaps_filled(tick_file: Path) -> None:
    quotes = load_ticks(tick_file)
    assert [q.ts_ns for q in quotes] == [T0 + 1, T0 + 250_000_000, T0 + 500_000_000, T0 + 1_000_000_000]
    second_nq = quotes[2]
    assert (second_nq.symbol, second_nq.bid, second_nq.ask) == ("NQZ5", 21000.25, 21000.5)
    assert (second_nq.last, second_nq.last_size) == (21000.25, 2.0)  # empty cells repeat the previous
    assert [q.symbol for q in load_ticks(tick_file, symbol="ESZ5")] == ["ESZ5"]


def test_bad_files_are_refused(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    missing.write_text("ts,symbol,bid\n1,X,1\n", encoding="utf-8")
    with pytest.raises(TickFileError, match="missing columns"):
        load_ticks(missing)
    crossed = tmp_path / "crossed.csv"
    crossed.write_text("ts,symbol,bid,ask,last,size\n1,X,2,1,1,1\n", encoding="utf-8")
    with pytest.raises(TickFileError, match="above ask"):
        load_ticks(crossed)
    bad_number = tmp_path / "bad.csv"
    bad_number.write_text("ts,symbol,bid,ask,last,size\n1,X,one,2,1,1\n", encoding="utf-8")
    with pytest.raises(TickFileError, match="bad bid"):
        load_ticks(bad_number)


def test_market_replays_ticks_when_their_time_comes(tick_file: Path) -> None:
    clock = ManualClock(start_ns=T0)
    market = Market(seed=0, clock=clock)
    market.add_instrument(NQ, ticks=load_ticks(tick_file, symbol="NQZ5"))
    assert market.quote("NQZ5").bid == 21000.0  # the first tick is the opening quote
    assert market.step(T0 + 100) == []
    (q,) = market.step(T0 + 600_000_000)
    assert q.bid == 21000.25
    assert not market.exhausted
    (q,) = market.step(T0 + 2_000_000_000)
    assert q.bid == 21001.0
    assert market.exhausted
    assert market.step(T0 + 3_000_000_000) == []
    assert market.quote("NQZ5").bid == 21001.0


def test_replay_can_be_shifted_to_now_and_iterated(tick_file: Path) -> None:
    market = Market(seed=0, clock=ManualClock(start_ns=0))
    market.add_instrument(NQ, ticks=load_ticks(tick_file, symbol="NQZ5"), replay_start_ns=10)
    assert market.quote("NQZ5").ts_ns == 10
    emitted = list(market.iter_quotes(interval_ns=100_000_000, start_ns=0))
    assert [q.ts_ns for q in emitted] == [10 + 499_999_999, 10 + 999_999_999]


def test_set_price_overrides_a_replay_until_its_next_tick(tick_file: Path) -> None:
    market = Market(seed=0, clock=ManualClock(start_ns=T0))
    market.add_instrument(NQ, ticks=load_ticks(tick_file, symbol="NQZ5"))
    market.set_price("NQZ5", 20000.0)
    assert market.quote("NQZ5").last == 20000.0
    market.step(T0 + 600_000_000)
    assert market.quote("NQZ5").bid == 21000.25


def test_parquet_round_trip_keeps_nanoseconds(tmp_path: Path, tick_file: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "ts": pa.array([T0 + 1, T0 + 7], pa.timestamp("ns", tz="UTC")),
            "symbol": ["NQZ5", "NQZ5"],
            "bid": [21000.0, 21000.25],
            "ask": [21000.25, 21000.5],
            "last": [21000.0, None],
            "size": [1.0, 3.0],
        }
    )
    path = tmp_path / "ticks.parquet"
    pq.write_table(table, path)
    quotes = load_ticks(path)
    assert [q.ts_ns for q in quotes] == [T0 + 1, T0 + 7]
    assert quotes[1].last == 21000.0
    assert quotes[1].last_size == 3.0
