"""Account ledgers: positions, realized P&L, cash and margin, in `Decimal`.

Netting (the default): one signed position per symbol with the average price of the open quantity; a
fill against it realizes P&L on the closed part at `(close - open) * qty * side * point_value`, and a fill
larger than the position flips it at the fill price.

Hedging (MT5 hedging accounts): an order's fills open their own position ticket, numbered like MT5 with
the opening order's ticket (its venue order id), so the partial fills of one order build one ticket. An
order that names `position_ticket` closes (part of) that ticket instead, and nothing nets otherwise: a buy
and a sell of the same symbol are two open tickets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from nexus_protocol.enums import Side
from nexus_sim.instruments import InstrumentSpec
from nexus_sim.model import Quote, RejectReason, SimPosition

ZERO = Decimal(0)


@dataclass(slots=True)
class _Holding:
    """A net position or one hedging ticket; `qty` is signed."""

    symbol: str
    qty: Decimal
    avg: Decimal
    realized: Decimal
    opened_ts_ns: int
    updated_ts_ns: int
    ticket: int | None = None

    @property
    def side(self) -> Side:
        return Side.BUY if self.qty > 0 else Side.SELL

    def add(self, signed_qty: Decimal, price: Decimal, ts_ns: int) -> None:
        """Increase in the position's direction (or open from flat)."""
        if self.qty == 0:
            self.opened_ts_ns = ts_ns
            self.avg = price
        else:
            self.avg = (abs(self.qty) * self.avg + abs(signed_qty) * price) / (
                abs(self.qty) + abs(signed_qty)
            )
        self.qty += signed_qty
        self.updated_ts_ns = ts_ns

    def reduce(self, spec: InstrumentSpec, qty: Decimal, price: Decimal, ts_ns: int) -> Decimal:
        """Close `qty` (<= |position|) at `price`; returns the realized P&L."""
        pnl = spec.pnl(self.side, qty, self.avg, price)
        self.qty -= qty * self.side.sign
        self.realized += pnl
        self.updated_ts_ns = ts_ns
        if self.qty == 0:
            self.avg = ZERO
        return pnl

    def snapshot(self, account: str) -> SimPosition:
        return SimPosition(
            account=account,
            symbol=self.symbol,
            quantity=float(self.qty),
            avg_price=float(self.avg),
            realized_pnl=self.realized,
            opened_ts_ns=self.opened_ts_ns,
            updated_ts_ns=self.updated_ts_ns,
            ticket=self.ticket,
        )


class Account:
    """One trading account's positions and money."""

    def __init__(
        self, account_id: str, *, hedging: bool = False, cash: Decimal | None = None, currency: str = "USD"
    ) -> None:
        self.account_id = account_id
        self.hedging = hedging
        self.cash = cash  # starting cash; None switches the margin check off
        self.currency = currency
        self._net: dict[str, _Holding] = {}  # netting
        self._tickets: dict[int, _Holding] = {}  # hedging, open and closed
        self._realized: dict[str, Decimal] = {}

    def __repr__(self) -> str:
        return f"Account({self.account_id!r}, hedging={self.hedging}, open={len(self._open())})"

    def _open(self) -> list[_Holding]:
        holdings = self._tickets.values() if self.hedging else self._net.values()
        return [h for h in holdings if h.qty != 0]

    # -- fills ---------------------------------------------------------------------------------------

    def close_problem(
        self, ticket: int, symbol: str, side: Side, qty: Decimal
    ) -> tuple[RejectReason, str] | None:
        """Why an order may not close position `ticket` (None if it may)."""
        holding = self._tickets.get(ticket)
        if not self.hedging:
            return RejectReason.UNKNOWN_POSITION, "position_ticket needs a hedging account"
        if holding is None or holding.qty == 0:
            return RejectReason.UNKNOWN_POSITION, f"position {ticket} is not open"
        if holding.symbol != symbol:
            return RejectReason.UNKNOWN_POSITION, f"position {ticket} is {holding.symbol}, not {symbol}"
        if holding.side is side:
            return (
                RejectReason.UNKNOWN_POSITION,
                f"position {ticket} is {holding.side}; closing needs the opposite side",
            )
        if qty > abs(holding.qty):
            return (
                RejectReason.INVALID_QUANTITY,
                f"position {ticket} holds {abs(holding.qty)}, cannot close {qty}",
            )
        return None

    def apply_fill(
        self,
        spec: InstrumentSpec,
        *,
        side: Side,
        qty: Decimal,
        price: Decimal,
        ts_ns: int,
        opening_ticket: int,
        close_ticket: int | None,
    ) -> tuple[Decimal, int | None]:
        """Book a fill; returns (realized P&L, the hedging ticket touched or None when netting)."""
        symbol = spec.symbol
        pnl: Decimal = ZERO
        ticket: int | None = None
        if self.hedging:
            ticket = opening_ticket
            if close_ticket is not None:
                # Validated at acceptance; if another order closed part of the ticket since, what is
                # left over opens a ticket of its own rather than vanishing.
                holding = self._tickets[close_ticket]
                closing = min(qty, abs(holding.qty))
                if closing > 0:
                    pnl, ticket = holding.reduce(spec, closing, price, ts_ns), close_ticket
                qty -= closing
            if qty > 0:
                opened = self._tickets.setdefault(
                    opening_ticket, _Holding(symbol, ZERO, ZERO, ZERO, ts_ns, ts_ns, opening_ticket)
                )
                opened.add(qty * side.sign, price, ts_ns)
        else:
            holding = self._net.setdefault(symbol, _Holding(symbol, ZERO, ZERO, ZERO, ts_ns, ts_ns))
            if holding.qty != 0 and holding.side is not side:
                closing = min(qty, abs(holding.qty))
                pnl = holding.reduce(spec, closing, price, ts_ns)
                qty -= closing
            if qty > 0:
                holding.add(qty * side.sign, price, ts_ns)
        self._realized[symbol] = self._realized.get(symbol, ZERO) + pnl
        return pnl, ticket

    # -- queries -------------------------------------------------------------------------------------

    def positions(self, *, include_flat: bool = False) -> list[SimPosition]:
        holdings = self._tickets.values() if self.hedging else self._net.values()
        chosen = [h for h in holdings if include_flat or h.qty != 0]
        chosen.sort(key=lambda h: (h.symbol, h.ticket or 0))
        return [h.snapshot(self.account_id) for h in chosen]

    def net_qty(self, symbol: str) -> Decimal:
        return sum((h.qty for h in self._open() if h.symbol == symbol), ZERO)

    def opening_qty(self, symbol: str, side: Side, qty: Decimal, close_ticket: int | None) -> Decimal:
        """The part of an order that would add exposure (and so needs margin)."""
        if self.hedging:
            return ZERO if close_ticket is not None else qty
        net = self.net_qty(symbol)
        if net != 0 and (net > 0) != (side is Side.BUY):
            return max(ZERO, qty - abs(net))
        return qty

    def realized(self, symbol: str | None = None) -> Decimal:
        if symbol is not None:
            return self._realized.get(symbol, ZERO)
        return sum(self._realized.values(), ZERO)

    def unrealized(
        self,
        spec_of: Callable[[str], InstrumentSpec],
        quote_of: Callable[[str], Quote],
        symbol: str | None = None,
    ) -> Decimal:
        """Open P&L marked where it could be closed now: longs at the bid, shorts at the ask."""
        total = ZERO
        for h in self._open():
            if symbol is not None and h.symbol != symbol:
                continue
            q = quote_of(h.symbol)
            mark = Decimal(str(q.bid if h.qty > 0 else q.ask))
            total += spec_of(h.symbol).pnl(h.side, abs(h.qty), h.avg, mark)
        return total

    def position_margin(self, spec_of: Callable[[str], InstrumentSpec]) -> Decimal:
        return sum((spec_of(h.symbol).margin_for(abs(h.qty), float(h.avg)) for h in self._open()), ZERO)
