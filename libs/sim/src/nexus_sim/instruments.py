"""Instrument definitions and exact tick arithmetic.

Prices travel as floats, but a simulator that adds `0.25` a thousand times drifts off the tick grid.
Every price this package produces is therefore computed as an integer number of ticks times a `Decimal`
tick size and only then turned into a float, so `price == round_to_tick(price)` always holds and two
runs with the same seed compare equal bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

from nexus_protocol.enums import Side

_QTY_EPSILON = 1e-9


def to_decimal(value: float | int | Decimal) -> Decimal:
    """The shortest decimal that prints as `value` (so `0.1` becomes `Decimal("0.1")`, not its binary)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True, kw_only=True, slots=True)
class InstrumentSpec:
    """One venue symbol as the simulated venue knows it.

    Market fields drive the random walk and the generated depth; trading fields drive the matching
    engine's validation, margin and P&L.
    """

    symbol: str
    tick_size: float
    start_price: float
    # Market (random walk and depth).
    spread_ticks: int = 1
    step_ticks: int = 1  # the walk moves by a uniform integer in [-step_ticks, step_ticks] per step
    base_size: float = 10.0  # typical top-of-book size; depth levels grow from it
    depth_levels: int = 5
    # Trading.
    lot_step: float = 1.0  # quantities must be a multiple of this
    min_qty: float | None = None  # defaults to lot_step
    max_qty: float | None = None
    point_value: float = 1.0  # P&L in account currency per 1.0 of price per 1.0 of quantity
    price_band_pct: float | None = None  # limit/stop prices further than this % from mid are refused
    margin_per_unit: float = 0.0  # initial margin per unit of quantity (futures style)
    margin_rate: float = 0.0  # initial margin as a fraction of notional (CFD style)

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("symbol must not be empty")
        if self.tick_size <= 0:
            raise ValueError(f"{self.symbol}: tick_size must be > 0, got {self.tick_size}")
        if self.start_price <= 0:
            raise ValueError(f"{self.symbol}: start_price must be > 0, got {self.start_price}")
        if self.spread_ticks < 1:
            raise ValueError(f"{self.symbol}: spread_ticks must be >= 1, got {self.spread_ticks}")
        if self.step_ticks < 0:
            raise ValueError(f"{self.symbol}: step_ticks must be >= 0, got {self.step_ticks}")
        if self.lot_step <= 0:
            raise ValueError(f"{self.symbol}: lot_step must be > 0, got {self.lot_step}")
        if self.depth_levels < 1:
            raise ValueError(f"{self.symbol}: depth_levels must be >= 1, got {self.depth_levels}")

    # -- ticks ---------------------------------------------------------------------------------------

    @property
    def tick(self) -> Decimal:
        return to_decimal(self.tick_size)

    def to_ticks(self, price: float | Decimal) -> int:
        """The nearest whole number of ticks (half to even)."""
        return int((to_decimal(price) / self.tick).to_integral_value(rounding=ROUND_HALF_EVEN))

    def from_ticks(self, ticks: int) -> float:
        return float(ticks * self.tick)

    def round_price(self, price: float) -> float:
        return self.from_ticks(self.to_ticks(price))

    def on_tick(self, price: float) -> bool:
        return to_decimal(price) % self.tick == 0

    # -- quantities ----------------------------------------------------------------------------------

    @property
    def effective_min_qty(self) -> float:
        return self.lot_step if self.min_qty is None else self.min_qty

    def on_lot(self, quantity: float) -> bool:
        """True when `quantity` is a whole number of lot steps (tolerating float noise upstream)."""
        lots = quantity / self.lot_step
        return abs(lots - round(lots)) < _QTY_EPSILON * max(1.0, abs(lots))

    def round_lot_up(self, quantity: Decimal) -> Decimal:
        """The smallest whole number of lot steps that is >= `quantity`."""
        step = to_decimal(self.lot_step)
        lots = (quantity / step).to_integral_value(rounding=ROUND_CEILING)
        return lots * step

    # -- money ---------------------------------------------------------------------------------------

    def margin_for(self, quantity: Decimal, price: float) -> Decimal:
        """Initial margin for `quantity` units at `price`."""
        per_unit = to_decimal(self.margin_per_unit) + to_decimal(self.margin_rate) * to_decimal(
            price
        ) * to_decimal(self.point_value)
        return quantity * per_unit

    def pnl(self, side: Side, quantity: Decimal, open_price: Decimal, close_price: Decimal) -> Decimal:
        """Realized P&L of closing `quantity` of a position held on `side`."""
        return (close_price - open_price) * quantity * side.sign * to_decimal(self.point_value)
