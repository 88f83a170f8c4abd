"""The nemesis plan: the same seed gives the same strikes; each kind keeps its own pace, in time
order; a kill never picks a platform simulator; a pace of zero switches a kind off."""

from __future__ import annotations

from itertools import islice, pairwise

import pytest

from nexus_testing.storm.nemesis import BOUNDARIES, Nemesis, Pace, Strike, Tally

pytestmark = pytest.mark.unit

SERVICES = ["router", "fills", "adapter-sierra", "nexus-bridge"]
LINKS = ["sierra", "nt8"]


def strikes(seed: int, n: int = 200, pace: Pace | None = None) -> list[Strike]:
    return list(islice(Nemesis(seed, SERVICES, LINKS, pace).plan(), n))


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    assert strikes(7) == strikes(7)
    assert strikes(7) != strikes(8)


def test_strikes_come_in_time_order_at_each_kinds_pace() -> None:
    plan = strikes(7, 400)
    assert [s.at_s for s in plan] == sorted(s.at_s for s in plan)
    for kind, (low, high) in (("kill", (1.5, 4.0)), ("link", (4.0, 10.0)), ("redis", (45.0, 90.0))):
        times = [s.at_s for s in plan if s.kind == kind]
        gaps = [b - a for a, b in pairwise(times)]
        assert gaps and all(low <= g <= high for g in gaps), kind
    assert {s.target for s in plan if s.kind == "kill"} == set(SERVICES)
    faults = [s.fault for s in plan if s.fault is not None]
    assert {f.link for f in faults} == set(LINKS)
    assert {f.at for f in faults} == set(BOUNDARIES)
    assert all((f.hold_s > 0) == (f.action == "hang") for f in faults)


def test_a_pace_of_zero_switches_a_kind_off() -> None:
    plan = strikes(7, 50, Pace(redis_every_s=(0, 0), link_every_s=(0, 0)))
    assert {s.kind for s in plan} == {"kill"}
    assert list(Nemesis(7, [], [], Pace(redis_every_s=(0, 0))).plan()) == []


def test_the_tally_counts_what_was_done() -> None:
    tally = Tally()
    for s in strikes(7, 100):
        tally.count(s)
        assert s.describe()
    assert sum(tally.kills.values()) + tally.redis_restarts + sum(tally.faults_armed.values()) == 100
