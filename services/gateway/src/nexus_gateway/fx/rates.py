"""Which rate converts a currency now, and why there is none: pure, no I/O.

A `RateBook` holds USDBRL (from WDO market data or a fixed setting) and a configured table of other
currencies. `lookup(currency, now_ns)` answers a `Rate` or a `NoRate` saying why: no USDBRL seen
yet, USDBRL older than the staleness limit, or a currency with no configured rate. fx holds a fill
for which the answer is `NoRate` rather than convert it with a rate it cannot trust.

A market rate's age is measured from the tick's origin time (`Envelope.ts`, stamped by the adapter
when it received the tick) to the wall clock now, not from the venue's own timestamp: venue clocks
(MT5 server time above all) may sit in another time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

from nexus_gateway.fx.money import USD, usd_per_unit, usdbrl_from_wdo
from nexus_protocol.codec import Envelope
from nexus_protocol.messages import Message, Tick

__all__ = ["BRL", "NoRate", "Rate", "RateBook", "usdbrl_from_tick"]

BRL = "BRL"
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per one unit of `currency`, where it came from, and when (None: configured, never stale)."""

    currency: str
    usd_rate: Decimal
    source: str  # "usd", "wdo", "fixed", "table"
    as_of_ns: int | None = None
    quote: Decimal | None = None  # the market's own quote, e.g. USDBRL 5.49

    def age_s(self, now_ns: int) -> float | None:
        return None if self.as_of_ns is None else (now_ns - self.as_of_ns) / _NS


@dataclass(frozen=True, slots=True)
class NoRate:
    """Why `currency` cannot be converted now."""

    currency: str
    pair: str  # the market pair fx needs, e.g. USDBRL
    reason: Literal["missing", "stale", "unknown_pair"]
    age_s: float | None = None  # of the last rate, when there is one
    max_age_s: float | None = None

    @property
    def message(self) -> str:
        if self.reason == "stale":
            return f"{self.pair} is {self.age_s:.1f} s old (limit {self.max_age_s:g} s)"
        if self.reason == "missing":
            return f"no {self.pair} rate seen yet"
        return f"no rate configured for {self.pair} (deploy/config/fx.yaml usd_rates)"


class RateBook:
    """The rates fx knows. `usdbrl_source` is "wdo" (market, ages) or "fixed" (configured, never ages)."""

    def __init__(
        self,
        *,
        max_age_s: float,
        usdbrl_source: Literal["wdo", "fixed"],
        fixed_usdbrl: Decimal | None = None,
        table: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.max_age_s = max_age_s
        self.source = usdbrl_source
        self.table = MappingProxyType({c.upper(): r for c, r in (table or {}).items()})
        self._usdbrl: Rate | None = None
        if usdbrl_source == "fixed":
            if fixed_usdbrl is None:
                raise ValueError("a fixed USDBRL source needs a rate")
            self._usdbrl = Rate(BRL, usd_per_unit(fixed_usdbrl), "fixed", None, fixed_usdbrl)

    @property
    def usdbrl(self) -> Rate | None:
        return self._usdbrl

    def update_usdbrl(self, usdbrl: Decimal, as_of_ns: int) -> bool:
        """Take a market USDBRL observed at `as_of_ns`; an older observation than the one held is
        ignored (False), so reading ticks out of order never moves the rate back in time."""
        if self.source != "wdo":
            return False
        held = self._usdbrl
        if held is not None and held.as_of_ns is not None and as_of_ns <= held.as_of_ns:
            return False
        self._usdbrl = Rate(BRL, usd_per_unit(usdbrl), "wdo", as_of_ns, usdbrl)
        return True

    def lookup(self, currency: str, now_ns: int) -> Rate | NoRate:
        cur = currency.upper()
        if cur == USD:
            return Rate(USD, Decimal(1), "usd")
        if cur == BRL:
            rate = self._usdbrl
            if rate is None:
                return NoRate(BRL, "USDBRL", "missing", None, self.max_age_s)
            age = rate.age_s(now_ns)
            if age is not None and age > self.max_age_s:
                return NoRate(BRL, "USDBRL", "stale", age, self.max_age_s)
            return rate
        if cur in self.table:
            return Rate(cur, self.table[cur], "table")
        return NoRate(cur, f"{cur}USD", "unknown_pair")


def usdbrl_from_tick(env: Envelope[Message]) -> tuple[Decimal, int] | None:
    """(USDBRL, observed at ns) from a WDO tick, or None if the entry carries no usable price."""
    tick = env.body
    if not isinstance(tick, Tick):
        return None
    price = tick.price
    if price is None or price <= 0:
        return None
    return usdbrl_from_wdo(price), env.ts
