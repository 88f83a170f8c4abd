"""Effectively once through the whole gateway: signals keep coming while gateway processes (stages
scaled out to several consumers: three normalizers, two fx, two fills) are SIGKILLed and restarted,
and Redis itself is killed and restarted from its AOF. Afterwards every
signal has exactly one final execution, every leg reached its venue exactly once, nothing is lost.

NX_CHAOS_SECONDS lengthens the run (default: short, for CI)."""

from __future__ import annotations

import os
import random
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import redis
import yaml
from mesh import Mesh

from nexus_mesh.embedded import RedisServer
from nexus_protocol import Execution, Names, OrderStatus, VenueOrder
from nexus_testing import REPO_ROOT, Services, read_stream, wait_for

SECONDS = float(os.environ.get("NX_CHAOS_SECONDS", "6"))
VICTIMS = ("router", "normalizer", "fx", "fills")


def check_exactly_once(client: redis.Redis, names: Names, sids: list[str], venues: tuple[str, ...]) -> None:
    executions = [e.body for e in read_stream(client, names.executions) if isinstance(e.body, Execution)]
    finals: dict[str, list[Execution]] = {}
    for ex in executions:
        if ex.final:
            finals.setdefault(ex.signal_id, []).append(ex)
    missing = [s for s in sids if s not in finals]
    assert not missing, f"{len(missing)} signals have no final execution"
    for sid in sids:
        last = finals[sid][-1]
        assert last.status is OrderStatus.FILLED, last
        assert sorted(leg.venue for leg in last.legs) == sorted(venues)
        assert all(leg.venue_filled_qty > 0 for leg in last.legs)
    for venue in venues:
        coids = [
            e.body.client_order_id
            for e in read_stream(client, names.orders(venue))
            if isinstance(e.body, VenueOrder)
        ]
        assert len(coids) == len(set(coids)) == len(sids), (
            f"{venue}: {len(coids)} orders for {len(sids)} signals"
        )


def patient_config(tmp_path: Path) -> str:
    """deploy/config with a signal age limit of 2 minutes: a router SIGKILLed and restarted on a loaded
    machine may take longer than the 10 s default to read the signals sent meanwhile."""
    cfg = tmp_path / "config"
    if cfg.exists():
        return str(cfg)
    shutil.copytree(REPO_ROOT / "deploy" / "config", cfg)
    risk = yaml.safe_load((cfg / "risk.yaml").read_text())
    risk["default"]["max_signal_age_s"] = 120
    (cfg / "risk.yaml").write_text(yaml.safe_dump(risk))
    return str(cfg)


@pytest.mark.slow
def test_sigkill_gateway_services_under_load_with_stages_scaled_out(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path
) -> None:
    """Three normalizers, two fx and two fills instances share their groups' work (issue 20)."""
    venues = ("nt8", "sierra")
    mesh = patient_mesh(services, client, names, venues, tmp_path)
    normalizers = mesh.scale("normalizer", 3)
    victims = ["router", *normalizers, *mesh.scale("fx", 2), *mesh.scale("fills", 2)]
    sids = signals_under_kills(mesh, venues, SECONDS, victims=victims)
    check_exactly_once(client, names, sids, venues)
    services.stop_all()  # each instance logs what it handled when it stops
    handled = {n: handled_by(mesh.procs[n].log()) for n in normalizers}
    print(f"\nsignals {len(sids)}; entries handled by each normalizer (stopped or claimed): {handled}")
    assert sum(1 for n in handled.values() if n) >= 2, f"one normalizer took all the work: {handled}"


def handled_by(log: str) -> int:
    """Entries an instance's incarnations reported handling when they stopped, plus those they claimed."""
    stopped = sum(int(m) for m in re.findall(r"stopped: <StreamProcessor \S+ processed=(\d+)", log))
    return stopped + sum(int(m) for m in re.findall(r"claimed (\d+) idle entries", log))


def patient_mesh(
    services: Services, client: redis.Redis, names: Names, venues: tuple[str, ...], tmp_path: Path
) -> Mesh:
    """The core stages and `venues` simulated, started, with the patient config and claims after 1 s."""
    mesh = Mesh(
        services,
        client,
        names,
        "sim",
        venues,
        NX_CLAIM_IDLE_MS="1000",
        NX_CONFIG_DIR=patient_config(tmp_path),
    )
    return mesh.start()


def signals_under_kills(
    mesh: Mesh, venues: tuple[str, ...], seconds: float, seed: int = 7, victims: Sequence[str] = VICTIMS
) -> list[str]:
    """NQ signals to `venues` every 80 ms for `seconds`, SIGKILLing and restarting a random gateway
    process (of `victims`) now and then; returns the signal ids once every one has its final execution."""
    rng = random.Random(seed)
    sids: list[str] = []
    end = time.monotonic() + seconds
    kills = 0
    while time.monotonic() < end or not kills:
        side = "buy" if len(sids) % 2 == 0 else "sell"
        sids.append(mesh.signal("NQ", side, 1, venues=venues))
        if rng.random() < 0.15:
            victim = rng.choice(victims)
            mesh.procs[victim].restart()
            kills += 1
        time.sleep(0.08)
    wait_for(
        lambda: all(mesh.executions(s) and mesh.executions(s)[-1].final for s in sids),
        timeout_s=60,
        what="every signal to finish",
    )
    return sids


@pytest.mark.slow
def test_redis_killed_and_restarted_from_aof_mid_flow(
    restartable_redis: RedisServer, namespace: str, services: Services
) -> None:
    services.redis_url = restartable_redis.url
    names = Names(namespace)
    client = redis.Redis.from_url(restartable_redis.url)
    venues = ("nt8", "sierra")
    mesh = Mesh(services, client, names, "sim", venues).start()
    sids = [mesh.signal("NQ", "buy" if i % 2 == 0 else "sell", 1, venues=venues) for i in range(10)]
    restartable_redis.kill()
    time.sleep(1.0)
    restartable_redis.start()
    client = redis.Redis.from_url(restartable_redis.url)
    mesh.client = client
    sids += [mesh.signal("NQ", "buy" if i % 2 == 0 else "sell", 1, venues=venues) for i in range(10)]
    wait_for(
        lambda: all(mesh.executions(s) and mesh.executions(s)[-1].final for s in sids),
        timeout_s=60,
        what="every signal to finish after the restart",
    )
    check_exactly_once(client, names, sids, venues)
    client.close()
