"""A platform's report as a Fill: checked like any input from outside, a long reason cut, not refused."""

from __future__ import annotations

import pytest

from nexus_mesh.adapter.reports import VenueReport, rejected
from nexus_protocol import OrderStatus, Side, VenueOrder
from nexus_protocol.codec import InvalidMessage
from nexus_protocol.ids import client_order_id, new_signal_id

SID = new_signal_id()
ORDER = VenueOrder(
    client_order_id=client_order_id(SID, "sc"), signal_id=SID, venue="sierra", symbol="NQ", side=Side.BUY,
    quantity=1, venue_symbol="NQH25", venue_quantity=1,
)  # fmt: skip


def test_a_platforms_long_reason_is_cut_to_what_a_message_may_carry() -> None:
    fill = rejected(ORDER.client_order_id, "no margin " * 500).to_fill(ORDER)
    assert fill.status is OrderStatus.REJECTED and fill.reason is not None
    assert len(fill.reason) == 2000 and fill.reason.endswith("...")


def test_a_non_finite_figure_from_the_platform_is_refused() -> None:
    report = VenueReport(
        client_order_id=ORDER.client_order_id, status=OrderStatus.FILLED, exec_id="1", last_qty=1,
        last_price=float("nan"), cum_qty=1,
    )  # fmt: skip
    with pytest.raises(InvalidMessage, match="last_price must be a finite number"):
        report.to_fill(ORDER)
