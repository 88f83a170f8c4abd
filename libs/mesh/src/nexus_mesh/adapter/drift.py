"""Position differences between a platform and the gateway, pure: one rule for every comparison.

The adapter compares the platform's positions with the gateway's view (the fills service's venue
positions) at every reconcile: after every (re)connect, every NX_DRIFT_CHECK_INTERVAL_S, and again
whenever a difference is waiting for its grace window to pass. Right after a restart, a reconnect or
a burst of orders the two often differ for a moment: fills the platform made are still on their way
through the mesh (fills:raw, the normalizer, fx, the fills service), or an order is still working.
Those are not alarms. A difference is reported, once, as a `position_mismatch` event when:
- it has had the same figures (platform and gateway quantities) for at least NX_POSITION_GRACE_S
  (default 30 s: far beyond the fill path's normal delay, and beyond a gateway service's restart), and
- no order of the adapter on that symbol was unfinished (sent, working, unknown outcome) in that time:
  an order finishing at the platform starts the window again, since its fills are still on their way.
A fill reaching either side changes the figures and restarts the clock; a difference that goes away is
forgotten. What stays is real: a trade made at the terminal, a fill the mesh lost, a platform that
lost its own state, or a fill path stalled for longer than the window. Each is reported once per
figures (its event id derives from them), with how long it persisted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

RECHECK_S = 1.0  # a difference waiting on an unfinished order is looked at again this soon at most


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


@dataclass(slots=True)
class _Seen:
    drift: Drift
    since: float
    reported: bool = False
    busy: bool = False  # an order of its symbol was unfinished at the last look


@dataclass(frozen=True, slots=True)
class Persisting:
    """A difference to report: it outlived the grace window with no order of its symbol unfinished."""

    drift: Drift
    for_s: float  # how long it has had these figures


@dataclass
class DriftWatch:
    grace_s: float = 30.0
    seen: dict[str, _Seen] = field(default_factory=dict)

    def observe(
        self,
        expected: Mapping[str, float],
        platform: Mapping[str, float],
        now: float,
        busy: Collection[str] = (),
    ) -> list[Persisting]:
        """This comparison's differences that are due: same figures for `grace_s`, symbol not `busy`."""
        kept: dict[str, _Seen] = {}
        due = []
        for sym, d in differences(expected, platform).items():
            before = self.seen.get(sym)
            # new figures, or an order of it unfinished: the window starts (again) now, so the fills of
            # an order that just finished get a whole window to come through the mesh
            fresh = before is None or before.drift != d or sym in busy
            s = _Seen(d, now, busy=sym in busy) if fresh or before is None else before
            kept[sym] = s
            if not s.reported and sym not in busy and now - s.since >= self.grace_s:
                s.reported = True
                due.append(Persisting(d, now - s.since))
        self.seen = kept
        return due

    def next_check(self, now: float) -> float | None:
        """When a difference still waiting for its window should be looked at again (None: none waits)."""
        waiting = [now if s.busy else s.since + self.grace_s for s in self.seen.values() if not s.reported]
        return max(min(waiting), now + min(RECHECK_S, self.grace_s)) if waiting else None
