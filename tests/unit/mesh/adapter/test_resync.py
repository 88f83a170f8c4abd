"""Auto-resync, pure: when a persisting difference is resynced, and the two legs it makes (the outside
trade booked at the quote, the order that takes the platform back), their ids derived from the record."""

from __future__ import annotations

import pytest

from nexus_mesh.adapter.drift import Drift
from nexus_mesh.adapter.resync import (
    OUTSIDE_CODE,
    RESYNC_CODE,
    ResyncRecord,
    booking,
    decide,
    reduces,
    resync_order,
)
from nexus_mesh.config_files import load_symbols
from nexus_protocol.enums import OrderStatus, OrderType, Side
from nexus_protocol.ids import parse_client_order_id
from nexus_testing import REPO_ROOT

REGISTRY = load_symbols(REPO_ROOT / "deploy" / "config")
BOUGHT = Drift("NAS100", gateway=0.0, platform=0.5)  # someone bought 0.5 at the terminal
GO = {"kill_on": False, "last_resync_ago_s": None, "min_interval_s": 300.0, "fill_path_idle": True,
      "price": 21000.0}  # fmt: skip


@pytest.mark.parametrize(
    ("gateway", "platform", "expected"),
    [(0.0, 0.5, True), (1.0, 2.0, True), (-1.0, -2.0, True), (2.0, 1.0, False), (0.0, -1.0, True),
     (1.0, -1.0, False), (-1.0, 0.0, False)],
)  # fmt: skip
def test_a_resync_reduces_when_it_takes_the_platform_toward_flat_never_through_it(
    gateway: float, platform: float, expected: bool
) -> None:
    assert reduces(Drift("NQH25", gateway, platform)) is expected


def test_a_difference_is_resynced_when_nothing_stands_in_the_way() -> None:
    assert decide(BOUGHT, **GO) is None  # type: ignore[arg-type]


def test_the_kill_switch_refuses_a_resync_that_would_add_and_lets_a_reducing_one_through() -> None:
    sold = Drift("NAS100", gateway=1.0, platform=0.5)  # the resync would buy 0.5 back
    verdict = decide(sold, **{**GO, "kill_on": True})  # type: ignore[arg-type]
    assert verdict is not None and (verdict.kind, verdict.final) == ("kill_switch", True)
    assert decide(BOUGHT, **{**GO, "kill_on": True}) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "kind"),
    [({"last_resync_ago_s": 12.0}, "rate_limit"), ({"fill_path_idle": False}, "fill_path"),
     ({"price": None}, "no_price")],
)  # fmt: skip
def test_what_may_change_defers_the_resync(change: dict[str, object], kind: str) -> None:
    verdict = decide(BOUGHT, **{**GO, **change})  # type: ignore[arg-type]
    assert verdict is not None and (verdict.kind, verdict.final) == (kind, False)
    assert decide(BOUGHT, **{**GO, "last_resync_ago_s": 301.0}) is None  # type: ignore[arg-type]


def test_the_outside_trade_is_booked_as_a_filled_leg_at_the_quote_and_the_order_undoes_it() -> None:
    rec = ResyncRecord("NAS100", 0.0, 0.5, 21000.0, ts_ns=1_700_000_000_000_000_000)
    order, route, fill = booking(rec, "mt5-global", REGISTRY)
    assert (order.side, order.venue_quantity, order.purpose, order.symbol) == (Side.BUY, 0.5, "outside", "NQ")
    assert parse_client_order_id(order.client_order_id)[1:] == (OUTSIDE_CODE, 0)
    assert [leg.client_order_id for leg in route.legs] == [order.client_order_id]
    assert (fill.status, fill.last_qty, fill.last_price, fill.leaves_qty, fill.synthetic) == (
        OrderStatus.FILLED, 0.5, 21000.0, 0.0, True,
    )  # fmt: skip
    assert fill.signal_id == order.signal_id == route.signal_id
    rs = resync_order(rec, "mt5-global", REGISTRY)
    assert (rs.side, rs.venue_quantity, rs.order_type, rs.purpose, rs.reduce_only) == (
        Side.SELL, 0.5, OrderType.MARKET, "resync", True,
    )  # fmt: skip
    assert parse_client_order_id(rs.client_order_id)[1:] == (RESYNC_CODE, 0)
    assert rs.signal_id != order.signal_id
    again = ResyncRecord.loads(rec.dumps())
    assert resync_order(again, "mt5-global", REGISTRY).client_order_id == rs.client_order_id  # a restart
    later = ResyncRecord("NAS100", 0.0, 0.5, 21000.0, ts_ns=rec.ts_ns + 1_000_000)
    assert resync_order(later, "mt5-global", REGISTRY).client_order_id != rs.client_order_id
