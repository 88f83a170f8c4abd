"""Positions per symbol and venue, in the venue's units and prices, with realized P&L in Decimal.

A fill that reduces a position realizes (fill price - average price) x closed quantity x point value
in the venue's currency; what is left of the fill opens at its price. Unrealized P&L values what is
open at a given price. USD conversion uses the rate the fx stage put on the fill, rounded to the cent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict

from nexus_protocol.enums import Side

CENT = Decimal("0.01")


def usd(amount: Decimal, usd_rate: float | None) -> Decimal:
    """Venue-currency money to USD at the fill's rate, rounded to the cent (half up)."""
    rate = Decimal(repr(usd_rate)) if usd_rate is not None else Decimal(1)
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def d(x: float) -> Decimal:
    return Decimal(repr(x))


class VenuePosition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    venue: str
    venue_symbol: str = ""
    contract: str | None = None
    quantity: str = "0"  # signed venue units, as a Decimal string
    avg_price: str = "0"
    realized: str = "0"  # venue currency
    realized_usd: str = "0"
    point_value: float = 1.0
    qty_factor: float = 1.0
    currency: str = "USD"

    @property
    def qty(self) -> Decimal:
        return Decimal(self.quantity)

    @property
    def universal_quantity(self) -> float:
        return float(self.qty) / self.qty_factor

    def apply(
        self, side: Side, qty: float, price: float, point_value: float, usd_rate: float | None
    ) -> tuple[VenuePosition, Decimal, Decimal]:
        """The position after a fill, and the P&L it realized (venue currency, USD)."""
        pos, avg, signed = self.qty, Decimal(self.avg_price), d(qty) * side.sign
        px, pv = d(price), d(point_value)
        realized = Decimal(0)
        if pos != 0 and (pos > 0) != (signed > 0):  # reducing (and maybe flipping)
            closed = min(abs(pos), abs(signed))
            realized = (px - avg) * closed * pv * (1 if pos > 0 else -1)
        new = pos + signed
        if new == 0:
            new_avg = Decimal(0)
        elif pos == 0 or (pos > 0) != (new > 0):  # opened, or flipped through zero
            new_avg = px
        elif (pos > 0) == (signed > 0):  # added to the same side
            new_avg = (avg * abs(pos) + px * abs(signed)) / abs(new)
        else:
            new_avg = avg
        realized_usd = usd(realized, usd_rate)
        updated = self.model_copy(
            update={
                "quantity": str(new),
                "avg_price": str(new_avg),
                "realized": str(Decimal(self.realized) + realized),
                "realized_usd": str(Decimal(self.realized_usd) + realized_usd),
                "point_value": point_value,
            }
        )
        return updated, realized, realized_usd

    def unrealized(self, price: float) -> Decimal:
        return (d(price) - Decimal(self.avg_price)) * self.qty * d(self.point_value)
