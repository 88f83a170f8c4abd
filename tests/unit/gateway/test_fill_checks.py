"""Impossible venue reports, refused on their own figures (normalizer) and against their leg (fills)."""

from __future__ import annotations

import pytest

from nexus_gateway.fills.aggregate import apply_fill, apply_route
from nexus_gateway.fills.checks import leg_problem, report_problem
from nexus_protocol import Fill, OrderStatus, Route, RouteLeg, Side

SID = "01JD3ZK6Q9X8V7W5T4S3R2P1N0"
COID = f"{SID}.n80"


def route(quantity: float = 3, ratio: float = 1.0) -> Route:
    leg = RouteLeg(venue="nt8", client_order_id=COID, status=OrderStatus.PENDING, ratio=ratio)
    return Route(signal_id=SID, symbol="NQ", side=Side.BUY, quantity=quantity, legs=(leg,))


def fill(last: float, cum: float, status: OrderStatus = OrderStatus.PARTIALLY_FILLED, **kw: object) -> Fill:
    fields: dict[str, object] = dict(
        fill_id=f"{COID}:x:{cum}", client_order_id=COID, signal_id=SID, venue="nt8", status=status,
        venue_symbol="NQ 03-25", side=Side.BUY, last_qty=last, last_price=100.0 if last else None,
        cum_qty=cum, symbol="NQ", qty_factor=1.0,
    )  # fmt: skip
    fields.update(kw)
    return Fill(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("report", "why"),
    [
        (fill(-5, 0), "negative or no number"),
        (fill(0, -1), "negative or no number"),
        (fill(float("nan"), 1), "negative or no number"),
        (fill(1, float("inf")), "negative or no number"),
        (fill(1, 1, last_price=float("nan")), "without a price"),
        (fill(0, 0, OrderStatus.FILLED), "nothing filled"),
        (fill(1, 1, OrderStatus.ACCEPTED), "with status accepted"),
        (fill(1, 1, OrderStatus.CANCELLED), "with status cancelled"),
        (fill(1, 1, last_price=None), "without a price"),
        (fill(2, 1), "more than cum_qty"),
    ],
)
def test_a_report_impossible_on_its_own_figures_says_why(report: Fill, why: str) -> None:
    problem = report_problem(report)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    "report",
    [
        fill(1, 1),
        fill(2, 3, OrderStatus.FILLED),
        fill(0, 0, OrderStatus.ACCEPTED),
        fill(0, 0, OrderStatus.REJECTED, reason="no margin"),
        fill(0, 2, OrderStatus.CANCELLED),
        fill(0, 2, OrderStatus.PARTIALLY_FILLED),  # a state report: what has filled so far
    ],
)
def test_possible_reports_pass(report: Fill) -> None:
    assert report_problem(report) is None


def test_a_leg_nobody_routed_is_unknown() -> None:
    assert "unknown client order id 'hello'" in (leg_problem(None, fill(1, 1, client_order_id="hello")) or "")
    state = apply_route(None, route())
    assert "unknown client order id" in (leg_problem(state, fill(1, 1, client_order_id="hello")) or "")
    assert leg_problem(state, fill(1, 1)) is None


def test_venue_and_side_must_be_the_legs() -> None:
    state = apply_route(None, route())
    assert "routed to nt8, not sierra" in (leg_problem(state, fill(1, 1, venue="sierra")) or "")
    assert "is a buy order" in (leg_problem(state, fill(1, 1, side=Side.SELL)) or "")


def test_an_overfill_is_refused_in_venue_units() -> None:
    state = apply_route(None, route(quantity=3))
    assert "more than the order's 3" in (leg_problem(state, fill(5, 5, OrderStatus.FILLED)) or "")
    assert leg_problem(state, fill(3, 3, OrderStatus.FILLED)) is None
    mapped = apply_route(None, route(quantity=1, ratio=10))  # one NQ as ten MNQ at a x20 venue
    assert leg_problem(mapped, fill(200, 200, OrderStatus.FILLED, qty_factor=20.0)) is None
    assert leg_problem(mapped, fill(201, 201, OrderStatus.FILLED, qty_factor=20.0)) is not None


def test_fills_never_add_up_past_the_highest_cumulative_quantity() -> None:
    state = apply_route(None, route(quantity=3))
    state = apply_fill(state, fill(2, 2), 0.0)
    again = fill(1, 1).replace(fill_id="other")  # cum went down from 2 to 1
    assert "would add up to 3" in (leg_problem(state, again) or "")
    assert leg_problem(state, fill(1, 3, OrderStatus.FILLED)) is None
    # out of order (two normalizer consumers): the second fill first, then the first
    late = apply_fill(apply_route(None, route(quantity=3)), fill(1, 2), 0.0)
    assert leg_problem(late, fill(1, 1).replace(fill_id="first")) is None
