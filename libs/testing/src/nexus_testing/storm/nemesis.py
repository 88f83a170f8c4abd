"""The storm's nemesis, as a seeded plan: what breaks next, where, and after how long.

`Nemesis(seed, services, links, pace)` yields `Strike`s forever; the same seed gives the same
sequence (the mesh's timing still varies from run to run, so a run is reproducible in what it does,
not in the interleaving it meets). The storm's harness carries each one out and counts it in a
`Tally`:
- `kill`: SIGKILL one mesh service (any: gateway stages, bridge, recorder, ingress, adapters) and start
  it again after `restart_after_s`; never a platform simulator (a real platform does not lose its book
  when the gateway crashes);
- `redis`: SIGKILL Redis and start it again from its AOF after `restart_after_s`;
- `link`: a platform link fault through the proxy (`proxy.Fault`): cut or hang, at a boundary (now, the
  next order's submit, just after it was sent, the platform's acceptance or fill of it).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from nexus_testing.storm.proxy import Action, At, Fault

Kind = Literal["kill", "redis", "link"]
BOUNDARIES: tuple[At, ...] = ("now", "submit", "sent", "accept", "fill")


@dataclass(frozen=True, kw_only=True, slots=True)
class Pace:
    """Seconds between strikes of each kind (uniform in [low, high]); 0 switches a kind off."""

    kill_every_s: tuple[float, float] = (1.5, 4.0)
    link_every_s: tuple[float, float] = (4.0, 10.0)
    redis_every_s: tuple[float, float] = (45.0, 90.0)
    restart_after_s: tuple[float, float] = (0.0, 2.0)
    redis_down_s: tuple[float, float] = (0.5, 3.0)
    hang_s: tuple[float, float] = (1.0, 8.0)
    link_down_s: tuple[float, float] = (0.0, 3.0)


@dataclass(frozen=True, kw_only=True, slots=True)
class Strike:
    at_s: float  # seconds since the storm began
    kind: Kind
    target: str = ""  # the service (kill) or the link's venue (link)
    restart_after_s: float = 0.0
    fault: Fault | None = None

    def describe(self) -> str:
        if self.kind == "link" and self.fault is not None:
            f = self.fault
            what = f"{f.action} at {f.at}" + (f" for {f.hold_s:.1f}s" if f.action == "hang" else "")
            return f"link {self.target}: {what}, down {f.down_s:.1f}s"
        if self.kind == "redis":
            return f"redis: SIGKILL, restart from AOF after {self.restart_after_s:.1f}s"
        return f"kill {self.target}, restart after {self.restart_after_s:.1f}s"


class Nemesis:
    def __init__(self, seed: int, services: list[str], links: list[str], pace: Pace | None = None) -> None:
        self.rng = random.Random(seed)
        self.services = sorted(services)
        self.links = sorted(links)
        self.pace = pace or Pace()

    def _gap(self, every: tuple[float, float]) -> float | None:
        return self.rng.uniform(*every) if every[1] > 0 else None

    def plan(self) -> Iterator[Strike]:
        """Strikes in time order; each kind on its own clock."""
        p = self.pace
        clocks: dict[Kind, float | None] = {
            "kill": self._gap(p.kill_every_s) if self.services else None,
            "link": self._gap(p.link_every_s) if self.links else None,
            "redis": self._gap(p.redis_every_s),
        }
        while any(t is not None for t in clocks.values()):
            kind, at = min(((k, t) for k, t in clocks.items() if t is not None), key=lambda kt: kt[1])
            yield self._strike(kind, at)
            gap = self._gap({"kill": p.kill_every_s, "link": p.link_every_s, "redis": p.redis_every_s}[kind])
            clocks[kind] = None if gap is None else at + gap

    def _strike(self, kind: Kind, at: float) -> Strike:
        p, rng = self.pace, self.rng
        if kind == "kill":
            return Strike(at_s=at, kind=kind, target=rng.choice(self.services),
                          restart_after_s=rng.uniform(*p.restart_after_s))  # fmt: skip
        if kind == "redis":
            return Strike(at_s=at, kind=kind, restart_after_s=rng.uniform(*p.redis_down_s))
        link = rng.choice(self.links)
        action: Action = rng.choice(("cut", "hang"))
        fault = Fault(
            link=link,
            action=action,
            at=rng.choice(BOUNDARIES),
            hold_s=rng.uniform(*p.hang_s) if action == "hang" else 0.0,
            down_s=rng.uniform(*p.link_down_s),
        )
        return Strike(at_s=at, kind=kind, target=link, fault=fault)


@dataclass
class Tally:
    """What the nemesis did: kills per service, Redis restarts, link faults armed per link and
    boundary (the proxy's events say which fired)."""

    kills: Counter[str] = field(default_factory=Counter)
    redis_restarts: int = 0
    faults_armed: Counter[str] = field(default_factory=Counter)  # "venue action at boundary"

    def count(self, strike: Strike) -> None:
        if strike.kind == "kill":
            self.kills[strike.target] += 1
        elif strike.kind == "redis":
            self.redis_restarts += 1
        elif strike.fault is not None:
            f = strike.fault
            self.faults_armed[f"{f.link} {f.action} {f.at}"] += 1
