"""MT5 orders, deals and positions as the adapter base's reports. Pure: no I/O.

One `VenueReport` per deal (a partial fill is a deal): exec_id = the deal ticket, so the same deal
read again (after order_send, by the poll, by reconcile, by a lookup after a restart) gives the same
fill id and dedupes on publish. Cumulative quantity and average price are recomputed from the order's
deals every time, never accumulated in memory, so they are right after any restart.
The fee is the deal's commission + swap + fee with the sign flipped (MT5 books costs negative; a
fill's fee is a cost), in the account currency (BRL on B3).
Deal times are the trade server's clock; `server_utc_offset_s` turns them into UTC nanoseconds.

The marker (`Reconciliation.marker`) is "deal ticket:deal time in ms" of the newest deal reported;
reconcile re-reads from a while before it (the publish dedupes), so no deal is lost to clock skew.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nexus_mesh.adapter import VenueReport
from nexus_mt5.constants import FINAL_STATES, DealType, OrderState, PositionType
from nexus_protocol.enums import OrderStatus

_EPS = 1e-9
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class OrderRec:
    ticket: int
    symbol: str
    state: int
    magic: int
    volume_initial: float
    volume_current: float
    comment: str
    time_setup_msc: int
    time_done_msc: int

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> OrderRec:
        return cls(
            ticket=int(r["ticket"]),
            symbol=str(r.get("symbol", "")),
            state=int(r.get("state", 0)),
            magic=int(r.get("magic", 0)),
            volume_initial=float(r.get("volume_initial", 0.0)),
            volume_current=float(r.get("volume_current", 0.0)),
            comment=str(r.get("comment", "")),
            time_setup_msc=int(r.get("time_setup_msc", 0)),
            time_done_msc=int(r.get("time_done_msc", 0)),
        )

    @property
    def working(self) -> bool:
        return self.state not in FINAL_STATES


@dataclass(frozen=True, slots=True)
class DealRec:
    ticket: int
    order: int
    type: int
    magic: int
    volume: float
    price: float
    commission: float
    swap: float
    fee: float
    time_msc: int
    symbol: str
    comment: str

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> DealRec:
        return cls(
            ticket=int(r["ticket"]),
            order=int(r.get("order", 0)),
            type=int(r.get("type", -1)),
            magic=int(r.get("magic", 0)),
            volume=float(r.get("volume", 0.0)),
            price=float(r.get("price", 0.0)),
            commission=float(r.get("commission", 0.0)),
            swap=float(r.get("swap", 0.0)),
            fee=float(r.get("fee", 0.0)),
            time_msc=int(r.get("time_msc", 0)),
            symbol=str(r.get("symbol", "")),
            comment=str(r.get("comment", "")),
        )

    @property
    def is_trade(self) -> bool:
        """Buys and sells of an order; balance, credit, commission and other booking deals are not fills."""
        return self.type in (DealType.BUY, DealType.SELL) and self.order > 0 and self.volume > 0

    @property
    def cost(self) -> float:
        return float(
            (-(Decimal(repr(self.commission)) + Decimal(repr(self.swap)) + Decimal(repr(self.fee)))).quantize(
                _CENT
            )
        )


def trade_deals(records: Iterable[Mapping[str, Any]] | None) -> list[DealRec]:
    deals = [DealRec.of(r) for r in records or ()]
    return sorted((d for d in deals if d.is_trade), key=lambda d: d.ticket)


def order_reports(
    coid: str, order: OrderRec | None, deals: Sequence[DealRec], *, server_utc_offset_s: int = 0
) -> list[VenueReport]:
    """Everything known about one order: accepted (no fill yet), one report per deal, its final state.

    `order` may be None when only its deals are visible (history not synced yet): fills are still
    reported, as partial until the order says how much it was for."""
    offset_ns = server_utc_offset_s * 1_000_000_000
    ticket = str(order.ticket) if order is not None else (str(deals[0].order) if deals else None)
    wanted = order.volume_initial if order is not None and order.volume_initial > 0 else None
    out: list[VenueReport] = []
    cum = Decimal(0)
    notional = Decimal(0)
    for deal in sorted(deals, key=lambda d: d.ticket):
        qty = Decimal(repr(deal.volume))
        cum += qty
        notional += qty * Decimal(repr(deal.price))
        filled = wanted is not None and float(cum) >= wanted - _EPS
        leaves = 0.0 if wanted is None or filled else max(wanted - float(cum), 0.0)
        out.append(
            VenueReport(
                client_order_id=coid,
                status=OrderStatus.FILLED if filled else OrderStatus.PARTIALLY_FILLED,
                exec_id=str(deal.ticket),
                last_qty=deal.volume,
                last_price=deal.price,
                cum_qty=float(cum),
                avg_price=float(notional / cum),
                leaves_qty=leaves,
                fee=deal.cost,
                venue_order_id=ticket,
                ts_ns=deal.time_msc * 1_000_000 - offset_ns,
            )
        )
    if order is None:
        return out
    avg = float(notional / cum) if cum else None
    state = _state(order.state)
    final = FINAL_STATES.get(state) if state is not None else None
    if final is None:  # still working (placed, partial, or a request in flight)
        if not out:
            out.insert(
                0,
                VenueReport(
                    client_order_id=coid,
                    status=OrderStatus.ACCEPTED,
                    venue_order_id=ticket,
                    leaves_qty=order.volume_current or order.volume_initial,
                    ts_ns=order.time_setup_msc * 1_000_000 - offset_ns,
                ),
            )
        return out
    if final is OrderStatus.FILLED:
        # filled: the last deal says FILLED; if the history has not shown every deal yet, say nothing more
        return out
    out.append(
        VenueReport(
            client_order_id=coid,
            status=final,
            cum_qty=float(cum),
            avg_price=avg,
            leaves_qty=0.0,
            venue_order_id=ticket,
            ts_ns=(order.time_done_msc or order.time_setup_msc) * 1_000_000 - offset_ns,
            reason=f"order {final.value} at the terminal"
            if final is not OrderStatus.REJECTED
            else "rejected at the terminal",
        )
    )
    return out


def accepted(coid: str, ticket: int, volume: float) -> VenueReport:
    return VenueReport(
        client_order_id=coid, status=OrderStatus.ACCEPTED, venue_order_id=str(ticket), leaves_qty=volume
    )


def _state(value: int) -> OrderState | None:
    try:
        return OrderState(value)
    except ValueError:
        return None


def net_positions(records: Iterable[Mapping[str, Any]] | None) -> dict[str, float]:
    """Signed volume per symbol. Netting accounts have one position per symbol; hedging accounts one
    per ticket, summed here (a long 2 and a short 1 hold 1)."""
    out: dict[str, Decimal] = {}
    for r in records or ():
        sym = str(r.get("symbol", ""))
        out[sym] = out.get(sym, Decimal(0)) + Decimal(repr(signed_volume(r)))
    return {s: float(v) for s, v in out.items() if v != 0}


def signed_volume(position: Mapping[str, Any]) -> float:
    """A position's volume, negative when it is short."""
    sign = 1 if int(position.get("type", 0)) == PositionType.BUY else -1
    return sign * float(position.get("volume", 0.0))


@dataclass(frozen=True, slots=True)
class Marker:
    """Where fills were reported up to: the newest deal's ticket and its (server) time in ms."""

    ticket: int = 0
    time_msc: int = 0

    @classmethod
    def parse(cls, text: str | None) -> Marker | None:
        if not text:
            return None
        ticket, _, msc = text.partition(":")
        try:
            return cls(int(ticket), int(msc or 0))
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"{self.ticket}:{self.time_msc}"

    def after(self, deal: DealRec) -> Marker:
        """Moved to `deal` if it is newer. A marker without a deal (ticket 0) holds a time from our
        own clock, which may not be the server's: the first deal's server time replaces it."""
        if deal.ticket <= self.ticket:
            return self
        return Marker(deal.ticket, max(deal.time_msc, self.time_msc) if self.ticket else deal.time_msc)
