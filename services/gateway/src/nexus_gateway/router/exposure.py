"""The net exposure cap across every venue and account, pure (risk.yaml `max_net_exposure_usd`).

The router's exposure book holds, per `venue|root`, the signed universal quantity of positions plus
working orders. It is the mesh's own record, not a venue's live answer, so a platform that goes
offline keeps its positions and working orders counted: the cap holds while a terminal is down.

- Net exposure of a root, in USD: the sum over venues of signed quantity x price x point value x
  USD per unit of the root's currency (long on one account and short on another net out).
- Total: the sum over roots of the absolute net (NQ long and ES short are not a hedge here).

`CapBook.admit` takes a signal's legs one by one: a leg that would carry a root's net or the total
beyond its cap is refused with the figures, and the legs admitted before it count for the next. A
leg that does not grow the absolute net (it reduces or flips within the cap) always passes. A root
with exposure but no price cannot be valued: new exposure is refused while that lasts (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Caps:
    total_usd: float | None = None  # None: no total cap
    per_root_usd: Mapping[str, float] = field(default_factory=dict)  # root -> cap (absent: none)

    @property
    def active(self) -> bool:
        return self.total_usd is not None or bool(self.per_root_usd)


def net_by_root(exposure: Mapping[str, float]) -> dict[str, float]:
    """`venue|root` -> signed universal quantity, summed per root."""
    out: dict[str, float] = {}
    for key, qty in exposure.items():
        root = key.split("|", 1)[1]
        out[root] = out.get(root, 0.0) + qty
    return out


@dataclass
class CapBook:
    """The net exposure in universal units per root, and what one unit of each root is worth in USD."""

    caps: Caps
    net: dict[str, float]  # root -> signed universal quantity across venues
    usd_per_unit: Mapping[str, float | None]  # root -> USD per universal unit (price x point value x fx)

    @classmethod
    def of(
        cls, caps: Caps, exposure: Mapping[str, float], usd_per_unit: Mapping[str, float | None]
    ) -> CapBook:
        return cls(caps, net_by_root(exposure), usd_per_unit)

    def usd(self, root: str) -> float | None:
        value = self.usd_per_unit.get(root)
        return None if value is None else self.net.get(root, 0.0) * value

    def total_usd(self) -> float | None:
        total = 0.0
        for root, qty in self.net.items():
            if abs(qty) < 1e-12:
                continue
            value = self.usd(root)
            if value is None:
                return None
            total += abs(value)
        return total

    def admit(self, root: str, signed_qty: float) -> str | None:
        """Count the leg and return None, or return why it would break a cap (and count nothing)."""
        before = self.net.get(root, 0.0)
        after = before + signed_qty
        if abs(after) <= abs(before) + 1e-12 or not self.caps.active:
            self.net[root] = after
            return None
        unit = self.usd_per_unit.get(root)
        if unit is None:
            return f"{root} has no price to value its exposure against the net exposure cap"
        cap = self.caps.per_root_usd.get(root)
        if cap is not None and abs(after) * unit > cap + 1e-6:
            return (
                f"net {root} exposure across all venues would be USD {after * unit:,.0f} "
                f"(cap USD {cap:,.0f}; now USD {before * unit:,.0f})"
            )
        if self.caps.total_usd is not None:
            total = self.total_usd()
            if total is None:
                missing = sorted(r for r, q in self.net.items() if abs(q) > 1e-12 and self.usd(r) is None)
                return f"{', '.join(missing)} has no price: the total net exposure cannot be valued"
            grown = total - abs(before) * unit + abs(after) * unit
            if grown > self.caps.total_usd + 1e-6:
                return (
                    f"total net exposure across all venues would be USD {grown:,.0f} "
                    f"(cap USD {self.caps.total_usd:,.0f}; now USD {total:,.0f})"
                )
        self.net[root] = after
        return None
