"""Stages scaled out by consumers: three normalizers, two fx and two fills instances in their groups
take disjoint work, and SIGKILLs among them keep the guarantees: every signal one final execution,
every leg at its venue exactly once (NX_CHAOS_SECONDS lengthens the run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis
from test_gateway_kill import SECONDS, check_exactly_once, patient_mesh, signals_under_kills

from nexus_protocol import Names
from nexus_testing import Services

VENUES = ("nt8", "sierra")


@pytest.mark.slow
def test_three_normalizers_two_fx_two_fills_with_kills(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path
) -> None:
    mesh = patient_mesh(services, client, names, VENUES, tmp_path)
    normalizers = mesh.scale("normalizer", 3)
    victims = [*normalizers, *mesh.scale("fx", 2), *mesh.scale("fills", 2)]
    sids = signals_under_kills(mesh, VENUES, SECONDS / 2, seed=11, victims=victims)
    check_exactly_once(client, names, sids, VENUES)
    services.stop_all()  # each instance logs what it handled when it stops
    handled = {n: handled_by(mesh.procs[n].log()) for n in normalizers}
    print(f"\nsignals {len(sids)}; entries handled by each normalizer (stopped or claimed): {handled}")
    assert sum(1 for n in handled.values() if n) >= 2, f"one normalizer took all the work: {handled}"


def handled_by(log: str) -> int:
    """Entries an instance's incarnations reported handling when they stopped, plus those they claimed."""
    stopped = sum(int(m) for m in re.findall(r"stopped: <StreamProcessor \S+ processed=(\d+)", log))
    return stopped + sum(int(m) for m in re.findall(r"claimed (\d+) idle entries", log))
