"""Sizing per venue account, pure: how much of a signal one account trades (venues.yaml `sizing`).

Every mode gives a *target* in venue units; the leg carries it in the signal's universal units
(`target / qty_factor`), and the normalizer rounds it down to the venue's lot step as for every leg,
reporting the rounding residual on the leg. `size_leg` does the same rounding here, so the router can
refuse a leg that would round to nothing and count the exposure the leg will really carry.

| mode | target (venue units) |
| --- | --- |
| `exposure` (default) | the signal's quantity at the same USD per point: quantity x qty_factor |
| `ratio` | exposure x `ratio` (0.5: half the exposure; 2: twice) |
| `fixed` | `quantity` venue units, whatever the signal's quantity |
| `risk` | `risk_usd` / (distance from entry to the signal's stop x USD per point of one venue unit) |
| `equity` | exposure x the account's equity / `reference_equity_usd` x `factor` |

The account's equity is its balance in USD as its adapter reports it. `max_quantity` (venue units)
caps any mode's target before rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

from nexus_mesh.accounts import (
    EquitySizing,
    ExposureSizing,
    FixedSizing,
    RatioSizing,
    RiskSizing,
    SizingMode,
)
from nexus_protocol.symbols import round_to_step


class SizingRefused(ValueError):
    """The leg cannot be sized; the message is the reason the leg is refused with."""


@dataclass(frozen=True, slots=True)
class LegInputs:
    quantity: float  # the signal's, universal units
    qty_factor: float  # venue units per universal unit at equal exposure
    usd_per_point: float  # USD per point of one venue unit
    lot_step: float
    min_qty: float
    entry_price: float | None = None  # the limit, reference or last price
    stop_price: float | None = None  # the signal's stop (risk mode)
    equity_usd: float | None = None  # the account's balance in USD (equity mode)


@dataclass(frozen=True, slots=True)
class LegSize:
    target: float  # universal units the leg asks for (the Order's quantity)
    venue_quantity: float  # what the venue will trade, rounded down to the lot step
    residual: float  # universal units the rounding leaves out
    capped: bool = False  # max_quantity cut the target


def _target(mode: SizingMode, leg: LegInputs) -> float:
    exposure = leg.quantity * leg.qty_factor
    if isinstance(mode, ExposureSizing):
        return exposure
    if isinstance(mode, RatioSizing):
        return exposure * mode.ratio
    if isinstance(mode, FixedSizing):
        return mode.quantity
    if isinstance(mode, RiskSizing):
        if leg.stop_price is None:
            raise SizingRefused("risk sizing needs the signal's stop price")
        if leg.entry_price is None:
            raise SizingRefused("risk sizing needs an entry price (limit, reference or last price)")
        distance = abs(leg.entry_price - leg.stop_price)
        if distance <= 0:
            raise SizingRefused(f"the stop {leg.stop_price:g} is at the entry price")
        return mode.risk_usd / (distance * leg.usd_per_point)
    if isinstance(mode, EquitySizing):
        if leg.equity_usd is None:
            raise SizingRefused(
                "equity sizing needs the account's balance (its adapter has not reported one)"
            )
        if leg.equity_usd <= 0:
            raise SizingRefused(f"the account's equity is USD {leg.equity_usd:,.2f}")
        return exposure * leg.equity_usd / mode.reference_equity_usd * mode.factor
    raise TypeError(f"unknown sizing mode {mode!r}")


def size_leg(mode: SizingMode, leg: LegInputs) -> LegSize:
    """The leg's size under `mode`, or SizingRefused when it cannot be sized or rounds to nothing."""
    target = _target(mode, leg)
    capped = mode.max_quantity is not None and target > mode.max_quantity
    if capped:
        assert mode.max_quantity is not None
        target = mode.max_quantity
    venue_qty = round_to_step(target, leg.lot_step)
    if venue_qty < leg.min_qty - 1e-12:
        raise SizingRefused(
            f"{getattr(mode, 'mode', '?')} sizing gives {target:.6g} venue units, "
            f"below the minimum {leg.min_qty:g}"
        )
    universal = target / leg.qty_factor
    return LegSize(
        target=universal,
        venue_quantity=venue_qty,
        residual=universal - venue_qty / leg.qty_factor,
        capped=capped,
    )
