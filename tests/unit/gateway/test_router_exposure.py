"""The net exposure cap: netting across venues and accounts, per root and in total, leg by leg,
reductions always pass, an unpriced root fails closed, an offline venue's book still counts."""

from __future__ import annotations

from nexus_gateway.router.exposure import CapBook, Caps, net_by_root

USD = {"NQ": 21000 * 20.0, "MNQ": 21000 * 2.0, "ES": 5000 * 50.0}  # USD per universal unit


def test_the_net_sums_venues_and_accounts_per_root() -> None:
    book = {"nt8|NQ": 2.0, "sierra|NQ": -1.0, "mt5-global|NQ": 1.0, "nt8|ES": -1.0}
    assert net_by_root(book) == {"NQ": 2.0, "ES": -1.0}
    b = CapBook.of(Caps(total_usd=5e6), book, USD)
    assert b.usd("NQ") == 840_000 and b.usd("ES") == -250_000
    assert b.total_usd() == 1_090_000  # NQ long and ES short do not net


def test_legs_are_admitted_one_by_one_until_the_cap() -> None:
    b = CapBook.of(Caps(per_root_usd={"NQ": 1_000_000}), {"nt8|NQ": 1.0}, USD)  # USD 420,000 held
    assert b.admit("NQ", 1.0) is None  # 840,000
    refused = b.admit("NQ", 1.0)  # 1,260,000 > 1,000,000
    assert (
        refused
        == "net NQ exposure across all venues would be USD 1,260,000 (cap USD 1,000,000; now USD 840,000)"
    )
    assert b.net["NQ"] == 2.0  # the refused leg counts nothing
    assert b.admit("NQ", -3.0) is None  # a flip to -1 shrinks the absolute net: it passes
    assert b.admit("ES", 10.0) is None  # no cap on ES


def test_the_total_cap_counts_every_root() -> None:
    b = CapBook.of(Caps(total_usd=700_000), {"nt8|ES": -2.0}, USD)  # USD 500,000 short ES
    refused = b.admit("NQ", 1.0)
    assert (
        refused
        == "total net exposure across all venues would be USD 920,000 (cap USD 700,000; now USD 500,000)"
    )
    assert b.admit("MNQ", 4.0) is None  # 168,000 -> 668,000
    assert b.admit("ES", 2.0) is None  # closing the short always passes


def test_an_unpriced_root_fails_closed_and_an_offline_venue_still_counts() -> None:
    prices = {**USD, "NQ": None}
    b = CapBook.of(Caps(total_usd=10e6), {"quantower|NQ": 1.0}, prices)
    assert b.admit("NQ", 1.0) == "NQ has no price to value its exposure against the net exposure cap"
    assert b.admit("ES", 1.0) == "NQ has no price: the total net exposure cannot be valued"
    assert b.admit("NQ", -1.0) is None  # reducing needs no price
    # quantower is offline: its position and working orders are still in the book
    offline = CapBook.of(Caps(per_root_usd={"NQ": 500_000}), {"quantower|NQ": 1.0}, USD)
    assert offline.admit("NQ", 1.0) is not None
    assert CapBook.of(Caps(), {"nt8|NQ": 100.0}, USD).admit("NQ", 100.0) is None  # no cap configured
