"""TradingView tickers to roots: continuous futures, dated contracts, exchange prefixes, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_ingress.tickers import Ticker, TickerError, parse_ticker
from nexus_mesh.config_files import load_symbols

REGISTRY = load_symbols(Path(__file__).resolve().parents[3] / "deploy" / "config")


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("NQ", Ticker("NQ")),
        ("nq", Ticker("NQ")),
        ("NQ1!", Ticker("NQ", continuous=1)),
        ("CME_MINI:ES1!", Ticker("ES", continuous=1)),
        ("MNQ1!", Ticker("MNQ", continuous=1)),
        ("NQ2!", Ticker("NQ", continuous=2)),
        ("NQH2025", Ticker("NQ", contract="NQH25")),
        ("ESZ25", Ticker("ES", contract="ESZ25")),
        ("WINJ2026", Ticker("WIN", contract="WINJ26")),
        ("US30", Ticker("US30")),
        (" BTCUSD ", Ticker("BTCUSD")),
    ],
)
def test_a_ticker_names_a_root_and_maybe_its_contract(raw: str, want: Ticker) -> None:
    assert parse_ticker(raw, REGISTRY) == want


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty"),
        ("CME:", "empty"),
        ("AAPL", "not a known root"),
        ("ZB1!", "not in the symbol registry"),
        ("NQ3!", "go up to NQ2!"),
        ("US301!", "no futures contracts"),
        ("HK50", "not a known root"),
        ("{{ticker}}", "not a known root"),
    ],
)
def test_what_cannot_be_traded_is_refused_with_the_reason(raw: str, why: str) -> None:
    with pytest.raises(TickerError, match=why):
        parse_ticker(raw, REGISTRY)
