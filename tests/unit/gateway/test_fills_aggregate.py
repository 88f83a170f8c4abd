"""Legs folded into one execution; positions and realized P&L, rounded to the cent in USD."""

from __future__ import annotations

import pytest

from nexus_gateway.fills.aggregate import apply_fill, apply_route, execution
from nexus_gateway.fills.positions import VenuePosition
from nexus_protocol import Fill, OrderStatus, Route, RouteLeg, Side

SID = "01JD3ZK6Q9X8V7W5T4S3R2P1N0"


def route(*venues: str, refused: tuple[str, ...] = (), ref: float | None = None) -> Route:
    legs = [RouteLeg(venue=v, client_order_id=f"{SID}.{v[:2]}0", status=OrderStatus.PENDING) for v in venues]
    legs += [
        RouteLeg(venue=v, client_order_id=f"{SID}.{v[:2]}0", status=OrderStatus.REJECTED, reason="limit")
        for v in refused
    ]
    return Route(signal_id=SID, symbol="NQ", side=Side.BUY, quantity=1, reference_price=ref, legs=tuple(legs))


def fill(
    venue: str,
    qty: float,
    price: float,
    status: OrderStatus = OrderStatus.FILLED,
    n: int = 1,
    factor: float = 1.0,
    ref: float | None = None,
) -> Fill:
    return Fill(
        fill_id=f"{SID}.{venue[:2]}0:x:{n}",
        client_order_id=f"{SID}.{venue[:2]}0",
        signal_id=SID,
        venue=venue,
        status=status,
        venue_symbol="NQH25",
        side=Side.BUY,
        last_qty=qty,
        last_price=price,
        symbol="NQ",
        qty_factor=factor,
        point_value=20.0 / factor,
        venue_reference_price=ref,
        usd_rate=1.0,
    )


def test_execution_is_final_when_every_leg_is_terminal_and_averages_by_exposure() -> None:
    s = apply_route(None, route("nt8", "sierra", "mt5"))
    s = apply_fill(s, fill("nt8", 1, 16250.50), 0.0)
    s = apply_fill(s, fill("sierra", 1, 16250.75), 0.0)
    assert not execution(s).final
    assert execution(s).status is OrderStatus.PARTIALLY_FILLED
    s = apply_fill(s, fill("mt5", 20, 16251.00, factor=20), 0.0)
    ex = execution(s)
    assert ex.final and ex.status is OrderStatus.FILLED
    assert ex.filled_quantity == 3
    assert ex.avg_price == pytest.approx(16250.75)  # the seed's example


def test_partial_fills_and_a_refused_leg_are_reported() -> None:
    s = apply_route(None, route("nt8", refused=("sierra",)))
    s = apply_fill(s, fill("nt8", 0.5, 100.0, OrderStatus.PARTIALLY_FILLED, n=1), 0.0)
    ex = execution(s)
    assert not ex.final
    s = apply_fill(s, fill("nt8", 0.5, 101.0, OrderStatus.FILLED, n=2), 0.0)
    ex = execution(s)
    assert ex.final and ex.status is OrderStatus.PARTIALLY_FILLED
    legs = {leg.venue: leg for leg in ex.legs}
    assert legs["nt8"].avg_price == 100.5
    assert legs["sierra"].status is OrderStatus.REJECTED and legs["sierra"].reason == "limit"


def test_combined_price_is_reference_plus_weighted_slippage_across_instruments() -> None:
    s = apply_route(None, route("nt8", "mt5", ref=21000.0))
    s = apply_fill(s, fill("nt8", 1, 21001.0, ref=21000.0), 0.0)  # future: 1 point worse
    s = apply_fill(s, fill("mt5", 20, 20903.0, factor=20, ref=20900.0), 0.0)  # CFD: basis, 3 worse
    ex = execution(s)
    assert ex.avg_price == pytest.approx(21002.0)
    legs = {leg.venue: leg for leg in ex.legs}
    assert legs["nt8"].slippage_points == 1.0 and legs["nt8"].slippage_usd == 20.0
    assert legs["mt5"].slippage_points == 3.0 and legs["mt5"].slippage_usd == 60.0


def test_all_legs_refused_is_a_final_rejection() -> None:
    s = apply_route(
        None, Route(signal_id=SID, symbol="NQ", side=Side.BUY, quantity=1, reason="kill switch is on")
    )
    ex = execution(s)
    assert ex.final and ex.status is OrderStatus.REJECTED and ex.reason == "kill switch is on"


def test_position_realizes_pnl_in_venue_currency_and_usd() -> None:
    p = VenuePosition(symbol="WIN", venue="mt5-brazil", currency="BRL")
    p, realized, realized_usd = p.apply(Side.BUY, 1, 130000.0, 0.20, 1 / 5.49)
    assert realized == 0 and p.qty == 1
    p, realized, realized_usd = p.apply(Side.SELL, 1, 130100.0, 0.20, 1 / 5.49)
    assert realized == pytest.approx(20.0) and realized_usd == 3.64  # the seed's example
    assert p.qty == 0


def test_position_averages_and_flips() -> None:
    p = VenuePosition(symbol="NQ", venue="nt8")
    p, _, _ = p.apply(Side.BUY, 1, 100.0, 20, 1.0)
    p, _, _ = p.apply(Side.BUY, 1, 102.0, 20, 1.0)
    assert p.avg_price == 101
    p, realized, _ = p.apply(Side.SELL, 3, 105.0, 20, 1.0)
    assert realized == 160  # 2 x 4 points x $20
    assert p.qty == -1 and p.avg_price == 105
    assert p.unrealized(104.0) == 20


def test_cents_round_half_away_from_zero_even_for_floats_a_hair_under() -> None:
    from nexus_gateway.fills.positions import cents

    assert (cents(2.675), cents(-2.675), cents(0.125), cents(3.6429), cents(1e9 + 0.005)) == (
        2.68, -2.68, 0.13, 3.64, 1e9 + 0.01,
    )  # fmt: skip


def test_many_small_fills_sum_without_drift() -> None:
    p = VenuePosition(symbol="US30", venue="mt5-global")
    for _ in range(10):
        p, _, _ = p.apply(Side.BUY, 0.1, 40000.0, 1.0, 1.0)
    p, _, _ = p.apply(Side.SELL, 1.0, 40010.0, 1.0, 1.0)
    assert p.qty == 0  # 0.1 x 10 - 1.0, kept to 10 decimals: flat, not 1e-16


def test_a_mapped_legs_fills_count_in_the_signals_units() -> None:
    r = Route(signal_id=SID, symbol="NQ", side=Side.BUY, quantity=2,
              legs=(RouteLeg(venue="nt8", client_order_id=f"{SID}.n80", status=OrderStatus.PENDING,
                             quantity=2, symbol="MNQ", ratio=10.0, rounding_residual=0.0),))  # fmt: skip
    s = apply_route(None, r)
    leg = s.legs[f"{SID}.n80"]
    leg.venue_filled_qty = 20.0  # 20 MNQ filled
    assert (leg.quantity, leg.universal_filled) == (2, 2.0)
