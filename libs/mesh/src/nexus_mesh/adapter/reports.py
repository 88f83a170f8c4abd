"""What a platform tells an adapter, in one shape, and how it becomes a `Fill` on nx:fills:raw.

A `VenueReport` is a fill (with the venue's own execution id) or a state change of one order.
Its fill id is derived from what it stands for (client order id + execution id, or + the state), so
the same report seen twice, replayed or re-synthesized by reconciliation, dedupes on publish.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nexus_protocol.enums import OrderStatus
from nexus_protocol.ids import derived_id
from nexus_protocol.messages import Fill, VenueOrder


@dataclass(frozen=True, slots=True)
class VenueReport:
    client_order_id: str
    status: OrderStatus
    exec_id: str | None = None  # the venue's execution id; required for a fill
    last_qty: float = 0.0
    last_price: float | None = None
    cum_qty: float = 0.0
    avg_price: float | None = None
    leaves_qty: float | None = None
    fee: float = 0.0
    reason: str | None = None
    venue_order_id: str | None = None
    ts_ns: int | None = None
    synthetic: bool = False  # inferred during recovery, not reported as such by the venue

    @property
    def is_fill(self) -> bool:
        return self.last_qty > 0

    @property
    def fill_id(self) -> str:
        if self.is_fill:
            if not self.exec_id:
                raise ValueError(f"fill for {self.client_order_id} has no execution id")
            return derived_id(self.client_order_id, "x", self.exec_id)
        return derived_id(self.client_order_id, self.status.value)

    def to_fill(self, order: VenueOrder) -> Fill:
        return Fill(
            fill_id=self.fill_id,
            client_order_id=self.client_order_id,
            signal_id=order.signal_id,
            venue=order.venue,
            status=self.status,
            venue_symbol=order.venue_symbol,
            side=order.side,
            last_qty=self.last_qty,
            last_price=self.last_price,
            cum_qty=self.cum_qty,
            avg_price=self.avg_price,
            leaves_qty=self.leaves_qty,
            fee=self.fee,
            currency=order.currency,
            reason=self.reason,
            venue_order_id=self.venue_order_id,
            venue_ts_ns=self.ts_ns,
            synthetic=self.synthetic,
            symbol=order.symbol,
            contract=order.contract,
            qty_factor=order.qty_factor,
            point_value=order.point_value,
            venue_reference_price=order.venue_reference_price,
        )


def rejected(client_order_id: str, reason: str) -> VenueReport:
    return VenueReport(client_order_id=client_order_id, status=OrderStatus.REJECTED, reason=reason)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """A venue's answer after a (re)connect: what is working, what is held, what filled since."""

    open_orders: list[VenueReport] = field(default_factory=list)
    reports: list[VenueReport] = field(default_factory=list)  # fills and final states since `since`
    positions: dict[str, float] = field(default_factory=dict)  # venue symbol -> signed venue quantity
    marker: str | None = None  # where the next `reconcile(since=...)` starts
