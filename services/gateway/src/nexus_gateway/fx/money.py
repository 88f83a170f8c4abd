"""Money in Decimal: conversion to USD, rounded to the cent at the edge. Pure, no I/O.

Prices and quantities travel as floats; money is computed in Decimal and rounded once, at the edge.
The rules every stage that converts money follows (fx, and the fills aggregator for P&L):

- A rate is **USD per one unit** of a currency (`Fill.usd_rate`); USD's rate is exactly 1.
- fx rounds a rate to `RATE_DIGITS` significant digits (`wire_rate`) before it puts it on a fill. A
  float holds 15 significant digits exactly, so `decimal_of(fill.usd_rate)` gives back exactly the
  Decimal fx used, and a later stage that converts again gets the same cents fx got. The rounding
  costs at most 5e-12 relative: under a cent on any amount below USD 1e9.
- `to_usd` multiplies and rounds to the cent, half-up (a tie goes away from zero, on either sign):
  sum in Decimal first, convert and round once.

The seed example: 100 WIN points x BRL 0.20 per point per contract = BRL 20.00; at USDBRL 5.49,
`to_usd(Decimal("20.00"), "BRL", usd_per_unit(Decimal("5.49")))` = 20 / 5.49 = 3.6429... -> USD 3.64.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal

__all__ = [
    "CENT",
    "RATE_DIGITS",
    "USD",
    "decimal_of",
    "round_cents",
    "to_usd",
    "usd_per_unit",
    "usdbrl_from_wdo",
    "wire_rate",
]

USD = "USD"
CENT = Decimal("0.01")
RATE_DIGITS = 12
WDO_QUOTE_USD = Decimal(1000)  # WDO is quoted in BRL per USD 1,000
_CTX = Context(prec=34, rounding=ROUND_HALF_EVEN)  # our own context: the thread's may have been changed


def decimal_of(value: float | int | str | Decimal) -> Decimal:
    """A wire number as the Decimal it prints as: 0.2 -> Decimal('0.2'), not its binary expansion."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def round_cents(amount: Decimal) -> Decimal:
    """To the cent, half-up (a tie goes away from zero)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP, context=_CTX)


def to_usd(amount: Decimal, currency: str, usd_rate: Decimal) -> Decimal:
    """`amount` of `currency` in USD at `usd_rate` (USD per one unit), rounded to the cent half-up.

    Raises ValueError on a rate that is not a positive finite number, and on a USD amount with a
    rate other than 1 (a caller bug that would otherwise silently scale dollars).
    """
    if not usd_rate.is_finite() or usd_rate <= 0:
        raise ValueError(f"usd_rate must be a positive finite number, got {usd_rate}")
    if currency.upper() == USD and usd_rate != 1:
        raise ValueError(f"a USD amount converts at 1, not {usd_rate}")
    return round_cents(_CTX.multiply(amount, usd_rate))


def wire_rate(rate: Decimal) -> Decimal:
    """`rate` to RATE_DIGITS significant digits, so it survives the float on the wire exactly."""
    if not rate.is_finite() or rate <= 0:
        raise ValueError(f"a rate must be a positive finite number, got {rate}")
    exponent = Decimal(1).scaleb(rate.adjusted() - RATE_DIGITS + 1)
    return rate.quantize(exponent, rounding=ROUND_HALF_EVEN, context=_CTX).normalize(_CTX)


def usd_per_unit(units_per_usd: Decimal) -> Decimal:
    """The rate of a currency quoted as units per USD (USDBRL 5.49 -> 0.182149362477 USD per BRL)."""
    if not units_per_usd.is_finite() or units_per_usd <= 0:
        raise ValueError(f"a quote must be a positive finite number, got {units_per_usd}")
    return wire_rate(_CTX.divide(Decimal(1), units_per_usd))


def usdbrl_from_wdo(price: float | Decimal) -> Decimal:
    """USDBRL (BRL per USD) from a WDO price (BRL per USD 1,000): 5490.0 -> 5.49."""
    value = decimal_of(price)
    if value <= 0:
        raise ValueError(f"a WDO price must be positive, got {price!r}")
    return _CTX.divide(value, WDO_QUOTE_USD).normalize(_CTX)
