"""Position drift, pure: the platform's positions against the gateway's, checked on a schedule.

At every (re)connect the adapter reports each difference at once (`position_mismatch`). Between
reconnects it reconciles every NX_DRIFT_CHECK_INTERVAL_S and reports a `position_drift` only for a
difference seen on two checks in a row with the same figures: a fill still on its way through the
mesh shows once, then agrees, while a trade made at the terminal (or a fill the mesh lost) stays.
Each drift is reported once per (symbol, platform, gateway) figures: its event id is derived from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Drift:
    venue_symbol: str
    gateway: float  # what the mesh's fills say the venue holds
    platform: float  # what the platform says it holds

    @property
    def difference(self) -> float:
        """What the platform holds beyond the gateway's view (negative: less)."""
        return self.platform - self.gateway


def differences(expected: Mapping[str, float], platform: Mapping[str, float]) -> dict[str, Drift]:
    out = {}
    for sym in sorted(set(expected) | set(platform)):
        want, have = expected.get(sym, 0.0), platform.get(sym, 0.0)
        if abs(want - have) > 1e-9:
            out[sym] = Drift(sym, want, have)
    return out


@dataclass
class DriftWatch:
    seen: dict[str, Drift] = field(default_factory=dict)

    def observe(self, expected: Mapping[str, float], platform: Mapping[str, float]) -> list[Drift]:
        """The differences of this check that the previous check saw too, with the same figures."""
        now = differences(expected, platform)
        persistent = [d for sym, d in now.items() if self.seen.get(sym) == d]
        self.seen = now
        return persistent
