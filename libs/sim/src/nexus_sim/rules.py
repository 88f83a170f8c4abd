"""The venue's rules as pure functions: order validation, fill prices, fill sizes.

Kept apart from the engine's bookkeeping so each rule can be read (and tested) on its own. A rule that
refuses returns a `Problem` (reason, human text) rather than raising: a refusal is a normal venue answer
that becomes a reject report.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

from nexus_protocol.enums import OrderType, Side
from nexus_sim.instruments import InstrumentSpec, to_decimal
from nexus_sim.model import Quote, RejectReason

Problem = tuple[RejectReason, str]


def check_quantity(spec: InstrumentSpec, quantity: float) -> Problem | None:
    if not math.isfinite(quantity) or quantity <= 0:
        return RejectReason.INVALID_QUANTITY, f"quantity {quantity} must be > 0"
    if quantity < spec.effective_min_qty:
        return RejectReason.INVALID_QUANTITY, f"quantity {quantity} below minimum {spec.effective_min_qty}"
    if spec.max_qty is not None and quantity > spec.max_qty:
        return RejectReason.INVALID_QUANTITY, f"quantity {quantity} above maximum {spec.max_qty}"
    if not spec.on_lot(quantity):
        return RejectReason.INVALID_QUANTITY, f"quantity {quantity} is not a multiple of {spec.lot_step}"
    return None


def _check_price(spec: InstrumentSpec, name: str, price: float | None, quote: Quote) -> Problem | None:
    if price is None or not math.isfinite(price) or price <= 0:
        return RejectReason.INVALID_PRICE, f"{name} {price} must be a positive price"
    if not spec.on_tick(price):
        return RejectReason.INVALID_PRICE, f"{name} {price} is not a multiple of tick {spec.tick_size}"
    if spec.price_band_pct is not None:
        reference = quote.mid
        distance_pct = abs(price - reference) / reference * 100
        if distance_pct > spec.price_band_pct:
            return (
                RejectReason.PRICE_OUT_OF_BAND,
                f"{name} {price} is {distance_pct:.2f}% from {reference}, band {spec.price_band_pct}%",
            )
    return None


def check_prices(
    spec: InstrumentSpec,
    order_type: OrderType,
    limit_price: float | None,
    stop_price: float | None,
    quote: Quote,
) -> Problem | None:
    """The price a LIMIT or STOP order needs: present, on the tick grid, inside the band around mid."""
    if order_type is OrderType.LIMIT:
        return _check_price(spec, "limit price", limit_price, quote)
    if order_type is OrderType.STOP:
        return _check_price(spec, "stop price", stop_price, quote)
    return None


def market_price(spec: InstrumentSpec, side: Side, quote: Quote, slippage_ticks: int) -> float:
    """Where a market order fills: the far side of the quote, `slippage_ticks` worse."""
    if side is Side.BUY:
        return spec.from_ticks(spec.to_ticks(quote.ask) + slippage_ticks)
    return spec.from_ticks(max(1, spec.to_ticks(quote.bid) - slippage_ticks))


def stop_triggered(side: Side, stop_price: float, quote: Quote) -> bool:
    """A buy stop triggers when the ask reaches it, a sell stop when the bid does."""
    return quote.ask >= stop_price if side is Side.BUY else quote.bid <= stop_price


def limit_crosses(side: Side, limit_price: float, quote: Quote) -> bool:
    return quote.ask <= limit_price if side is Side.BUY else quote.bid >= limit_price


def requote_needed(
    spec: InstrumentSpec, fill_price: float, expected: float | None, deviation: int | None
) -> bool:
    """MT5 instant execution: the fill would be more than `deviation` ticks from the price the client saw."""
    if expected is None or deviation is None:
        return False
    return abs(spec.to_ticks(fill_price) - spec.to_ticks(expected)) > deviation


def slice_qty(
    spec: InstrumentSpec,
    order_qty: Decimal,
    leaves: Decimal,
    *,
    fill_parts: int,
    max_fill_qty_per_step: float | None,
) -> Decimal:
    """How much of an order may fill in one matching step.

    `fill_parts` splits the order into that many fills (each rounded up to the lot step, the last one
    taking the remainder); `max_fill_qty_per_step` caps a step (rounded down to the lot step, never
    below one lot). The result is a whole number of lots, so partial fills always sum to the order.
    """
    step = to_decimal(spec.lot_step)
    size = leaves
    if fill_parts > 1:
        size = min(size, max(step, spec.round_lot_up(order_qty / fill_parts)))
    if max_fill_qty_per_step is not None:
        cap = (to_decimal(max_fill_qty_per_step) / step).to_integral_value(rounding=ROUND_FLOOR) * step
        size = min(size, max(step, cap))
    return size
