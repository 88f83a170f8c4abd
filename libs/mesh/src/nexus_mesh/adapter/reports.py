"""What a platform tells an adapter, in two shapes, and how a report becomes a `Fill` on nx:fills:raw.

- `VenueReport`: a state change of one order, or a fill with the cumulative figures the platform
  itself gives (MT5 deals, DTC order updates, the simulated venue).
- `VenueExecution`: one execution as a platform reports it (id, quantity, price) without cumulative
  figures (the NinjaTrader/Quantower bridge, Bookmap, fills synthesized from the ATI's state). The
  base counts it in its execution ledger (`ledger`), which makes it a `VenueReport`.

A report's fill id is derived from what it stands for (client order id + execution id, or + the state),
so the same report seen twice, replayed or re-synthesized by reconciliation, dedupes on publish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from nexus_protocol.codec import validated
from nexus_protocol.enums import OrderStatus
from nexus_protocol.ids import derived_id
from nexus_protocol.messages import TEXT_LIMITS, Fill, VenueOrder


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
    def acknowledges(self) -> bool:
        """Proof that the platform has the order (any state past pending, or a fill)."""
        return self.status is not OrderStatus.PENDING or self.is_fill

    @property
    def fill_id(self) -> str:
        if self.is_fill:
            if not self.exec_id:
                raise ValueError(f"fill for {self.client_order_id} has no execution id")
            return derived_id(self.client_order_id, "x", self.exec_id)
        return derived_id(self.client_order_id, self.status.value)

    def to_fill(self, order: VenueOrder) -> Fill:
        """The report as a Fill, checked like any input from outside (InvalidMessage: a NaN or
        infinite number, a value of the wrong type from the platform). A platform's reason longer
        than a message may carry is cut, not refused: the report matters more than its wording."""
        return validated(
            Fill(
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
                reason=_cut(self.reason, TEXT_LIMITS["reason"]),
                venue_order_id=self.venue_order_id,
                venue_ts_ns=self.ts_ns,
                synthetic=self.synthetic,
                symbol=order.symbol,
                contract=order.contract,
                qty_factor=order.qty_factor,
                point_value=order.point_value,
                venue_reference_price=order.venue_reference_price,
            )
        )


def _cut(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else f"{text[: limit - 3]}..."


@dataclass(frozen=True, slots=True)
class VenueExecution:
    """One execution of one order as the platform reports it; the ledger adds cumulative figures.

    `completes`: the platform says this execution finished the order (its own quantity may differ
    from ours, e.g. after lot rounding); otherwise the order is filled once the ledger's cumulative
    quantity reaches the order's venue quantity."""

    client_order_id: str
    exec_id: str
    qty: float
    price: float
    fee: float = 0.0
    ts_ns: int | None = None
    venue_order_id: str | None = None
    synthetic: bool = False
    completes: bool = False

    @property
    def acknowledges(self) -> bool:
        return True

    def completed(self) -> VenueExecution:
        """The same execution, marked as the one that finished the order."""
        return replace(self, completes=True)

    def foreign(self) -> VenueReport:
        """The execution as a report for an order this gateway did not send (raised as an event)."""
        return VenueReport(
            client_order_id=self.client_order_id, status=OrderStatus.PARTIALLY_FILLED,
            exec_id=self.exec_id, last_qty=self.qty, last_price=self.price, fee=self.fee,
            venue_order_id=self.venue_order_id, ts_ns=self.ts_ns,
        )  # fmt: skip


PlatformReport = VenueReport | VenueExecution


def rejected(client_order_id: str, reason: str) -> VenueReport:
    return VenueReport(client_order_id=client_order_id, status=OrderStatus.REJECTED, reason=reason)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """A venue's answer after a (re)connect: what is working, what is held, what filled since."""

    open_orders: Sequence[PlatformReport] = field(default_factory=list)
    reports: Sequence[PlatformReport] = field(default_factory=list)  # fills and final states since `since`
    positions: dict[str, float] = field(default_factory=dict)  # venue symbol -> signed venue quantity
    marker: str | None = None  # where the next `reconcile(since=...)` starts
