"""The storm's history checker: the driver's, the platforms' and the mesh's records against each other.

Zero tolerance (`Checked.failures` names every count that is not zero):
- every signal that reached the mesh has exactly one final execution; one that never left the client
  has none (`no_final`, `several_finals`, `final_for_unsent`);
- every order a venue was routed reached its platform at most once while working (`platform_duplicates`:
  a copy the platform refused on arrival, such as an MT5 requote the adapter re-sends, is not), none
  twice on the bus (`bus_duplicates`), none the platform got that was never routed there
  (`unexpected_platform_orders`), and none the final execution says filled that the platform never
  received (`lost_orders`);
- per client order id, the platform's fills equal the final execution's leg
  (`platform_fills_not_in_execution`, `execution_fills_not_at_platform`);
- per venue and symbol, the platform's position equals the fills stage's (`position_differences`);
- after the storm settled: nothing pending in any group, nothing dead-lettered, no alarm (position
  mismatch or drift, duplicate timeout, lost group), no symbol held by the bridge, no problem in
  `nexusctl status` (its lag included), no signal final later than the bound.
Each count keeps a few examples; `time_to_final_s` has the distribution and the slowest signals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nexus_testing.storm.history import FinalSeen, MeshHistory, PlatformHistory, SentSignal

_EPS = 1e-6
EXAMPLES = 10
ZERO = (
    "no_final",
    "several_finals",
    "final_for_unsent",
    "platform_duplicates",
    "bus_duplicates",
    "unexpected_platform_orders",
    "lost_orders",
    "platform_fills_not_in_execution",
    "execution_fills_not_at_platform",
    "position_differences",
    "pending_entries",
    "dead_letters",
    "alarms",
    "held_symbols",
    "status_problems",
    "late_finals",
)


@dataclass
class Checked:
    counts: dict[str, int] = field(default_factory=dict)  # every ZERO count, and informative ones
    examples: dict[str, list[str]] = field(default_factory=dict)
    venues: dict[str, dict[str, int]] = field(default_factory=dict)  # per venue: the same counts
    statuses: dict[str, int] = field(default_factory=dict)  # final executions by status
    time_to_final_s: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> list[str]:
        return [k for k in ZERO if self.counts.get(k, 0)]

    @property
    def ok(self) -> bool:
        return not self.failures

    def add(self, name: str, items: Iterable[str], venue: str | None = None) -> None:
        found = list(items)
        self.counts[name] = self.counts.get(name, 0) + len(found)
        self.examples.setdefault(name, [])
        self.examples[name] += found[: max(0, EXAMPLES - len(self.examples[name]))]
        if venue is not None:
            self.venues.setdefault(venue, {})[name] = len(found)


def check(
    sent: list[SentSignal],
    mesh: MeshHistory,
    platforms: Mapping[str, PlatformHistory],
    *,
    bound_s: float,
) -> Checked:
    out = Checked()
    reached = _signals(out, sent, mesh)
    _finals(out, sent, reached, mesh, bound_s)
    last = {sid: fs[-1] for sid, fs in mesh.finals.items() if fs}
    for venue, platform in sorted(platforms.items()):
        _venue(out, venue, platform, mesh, last)
    out.add("pending_entries", (f"{k}: {n}" for k, n in mesh.pending.items() for _ in range(n)))
    out.add("dead_letters", mesh.dead_letters)
    out.add("alarms", (k for k, n in mesh.alarms.items() for _ in range(n)))
    out.add("held_symbols", (f"{sym} by {sid}" for sym, sid in mesh.held.items()))
    out.add("status_problems", mesh.status_problems)
    out.statuses = dict(Counter(f.status for f in last.values()))
    return out


def _signals(out: Checked, sent: list[SentSignal], mesh: MeshHistory) -> set[str]:
    """The signal ids that reached the mesh: sent, or of unknown outcome and on the bridge's intake."""
    kinds = Counter(s.outcome for s in sent)
    unknown_arrived = [s for s in sent if s.outcome == "unknown" and s.signal_id in mesh.arrived]
    not_on_intake = [s.signal_id for s in sent if s.outcome == "sent" and s.signal_id not in mesh.arrived]
    out.counts |= {
        "signals": len(sent),
        "signals_sent": kinds["sent"],
        "signals_unknown_outcome": kinds["unknown"],
        "signals_unknown_arrived": len(unknown_arrived),
        "signals_refused_by_client": kinds["refused"],
    }
    out.add("sent_not_on_intake", not_on_intake)  # informative: the intake is where a send lands
    return {s.signal_id for s in sent if s.outcome == "sent"} | {s.signal_id for s in unknown_arrived}


def _finals(
    out: Checked, sent: list[SentSignal], reached: set[str], mesh: MeshHistory, bound_s: float
) -> None:
    out.add("no_final", (sid for sid in sorted(reached) if not mesh.finals.get(sid)))
    out.add("several_finals", (sid for sid in sorted(reached) if len(mesh.finals.get(sid, ())) > 1))
    unsent = {s.signal_id for s in sent} - reached
    out.add("final_for_unsent", (sid for sid in sorted(unsent) if mesh.finals.get(sid)))
    sent_ms = {s.signal_id: s.sent_ns / 1e6 for s in sent}
    took = sorted(
        ((mesh.finals[sid][0].entry_ms - sent_ms[sid]) / 1000, sid) for sid in reached if mesh.finals.get(sid)
    )
    out.time_to_final_s = distribution([t for t, _ in took]) | {
        "slowest": [f"{sid} {t:.1f}s" for t, sid in took[-EXAMPLES:][::-1]],
        "bound_s": bound_s,
    }
    out.add("late_finals", (f"{sid} {t:.1f}s" for t, sid in took if t > bound_s))


def _venue(
    out: Checked, venue: str, platform: PlatformHistory, mesh: MeshHistory, last: Mapping[str, FinalSeen]
) -> None:
    routed = mesh.orders.get(venue, {})
    legs = {coid: (status, qty) for f in last.values() for v, coid, status, qty in f.legs if v == venue}
    got = platform.received
    out.venues.setdefault(venue, {}).update(routed=len(routed), received=len(got))
    out.add("platform_duplicates", (f"{c} x{n + 1}" for c, n in platform.duplicates.items() if n), venue)
    out.venues[venue]["resent_after_refusal"] = sum(
        n - 1 - platform.duplicates[c] for c, n in got.items() if n > 1
    )
    copies = mesh.order_copies
    out.add("bus_duplicates", (f"{c} x{n}" for (v, c), n in copies.items() if v == venue and n > 1), venue)
    out.add("unexpected_platform_orders", (c for c in got if c not in routed), venue)
    out.add(
        "lost_orders",
        (c for c in routed if not got[c] and c in legs and (legs[c][1] > _EPS or legs[c][0] == "filled")),
        venue,
    )
    more, fewer = [], []
    for coid in sorted(set(platform.filled) | set(legs)):
        at_platform, in_execution = platform.filled.get(coid, 0.0), legs.get(coid, ("", 0.0))[1]
        if at_platform > in_execution + _EPS:
            more.append(f"{coid}: platform {at_platform:g}, execution {in_execution:g}")
        elif in_execution > at_platform + _EPS:
            fewer.append(f"{coid}: execution {in_execution:g}, platform {at_platform:g}")
    out.add("platform_fills_not_in_execution", more, venue)
    out.add("execution_fills_not_at_platform", fewer, venue)
    ours = mesh.venue_positions.get(venue, {})
    out.add(
        "position_differences",
        (
            f"{venue} {sym}: platform {platform.positions.get(sym, 0.0):g}, mesh {ours.get(sym, 0.0):g}"
            for sym in sorted(set(platform.positions) | set(ours))
            if abs(platform.positions.get(sym, 0.0) - ours.get(sym, 0.0)) > _EPS
        ),
        venue,
    )
    out.venues[venue]["fills"] = sum(1 for q in platform.filled.values() if q > _EPS)


def distribution(values: list[float]) -> dict[str, Any]:
    """Count, p50, p90, p99 and max of `values` (seconds, rounded to ms)."""
    if not values:
        return {"count": 0}
    xs = sorted(values)

    def pct(p: float) -> float:
        return round(xs[min(len(xs) - 1, int(p * len(xs)))], 3)

    return {"count": len(xs), "p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": round(xs[-1], 3)}
