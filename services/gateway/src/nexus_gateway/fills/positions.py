"""Positions per symbol and venue, in the venue's units and prices, with realized P&L.

A fill that reduces a position realizes (fill price - average price) x closed quantity x point value
in the venue's currency; what is left of the fill opens at its price. Unrealized P&L values what is
open at a given price. Plain float arithmetic: quantities are kept to 10 decimals (below any lot
step), and money is rounded once, to the cent, where it becomes USD (`cents`), at the rate the fx
stage put on the fill.
"""

from __future__ import annotations

import math

import msgspec

from nexus_protocol.enums import Side

QTY_DIGITS = 10


def cents(amount: float) -> float:
    """To the cent, half away from zero (a float a hair under the half, as 2.675 is, still rounds up)."""
    if not amount:
        return 0.0
    scaled = abs(amount) * 100
    return math.copysign(math.floor(scaled + 0.5 + 1e-15 * max(1.0, scaled)) / 100, amount)  # a few ulps


def usd(amount: float, usd_rate: float | None) -> float:
    """Venue-currency money to USD at the fill's rate, rounded to the cent."""
    return cents(amount * (usd_rate if usd_rate is not None else 1.0))


class VenuePosition(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    symbol: str
    venue: str
    venue_symbol: str = ""
    contract: str | None = None
    quantity: float = 0.0  # signed venue units
    avg_price: float = 0.0
    realized: float = 0.0  # venue currency
    realized_usd: float = 0.0
    point_value: float = 1.0
    qty_factor: float = 1.0
    currency: str = "USD"

    @property
    def qty(self) -> float:
        return self.quantity

    @property
    def universal_quantity(self) -> float:
        return self.quantity / self.qty_factor

    def apply(
        self, side: Side, qty: float, price: float, point_value: float, usd_rate: float | None
    ) -> tuple[VenuePosition, float, float]:
        """The position after a fill, and the P&L it realized (venue currency, USD to the cent)."""
        pos, avg, signed = self.quantity, self.avg_price, qty * side.sign
        realized = 0.0
        if pos != 0 and (pos > 0) != (signed > 0):  # reducing (and maybe flipping)
            closed = min(abs(pos), abs(signed))
            realized = (price - avg) * closed * point_value * (1 if pos > 0 else -1)
        new = round(pos + signed, QTY_DIGITS)
        if new == 0:
            new_avg = 0.0
        elif pos == 0 or (pos > 0) != (new > 0):  # opened, or flipped through zero
            new_avg = price
        elif (pos > 0) == (signed > 0):  # added to the same side
            new_avg = (avg * abs(pos) + price * abs(signed)) / abs(new)
        else:
            new_avg = avg
        realized_usd = usd(realized, usd_rate)
        updated = msgspec.structs.replace(
            self,
            quantity=new,
            avg_price=new_avg,
            realized=self.realized + realized,
            realized_usd=round(self.realized_usd + realized_usd, 2),
            point_value=point_value,
        )
        return updated, realized, realized_usd

    def unrealized(self, price: float) -> float:
        return (price - self.avg_price) * self.quantity * self.point_value
