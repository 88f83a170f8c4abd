"""Stages killed around their commit on the 3-primary Redis Cluster: exactly-once effects hold where a
batch's commit spans slots (the state's slot first, then the outbox's calls). The kills before any
commit (after the read, after the handler) are the same on one server or a cluster: tests/chaos/
test_stage_crash.py and test_fills_crash.py run them.

`mid_commit` cuts a stateful stage between its slots: the state is written, its outputs only in the
outbox, which the restarted stage runs before its pending entries (their state says they are done).
The gateway mesh runs on the cluster too: one signal to every NQ platform, then signals while its
stages are SIGKILLed (NX_CHAOS_SECONDS lengthens the run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from test_fills_crash import test_two_fills_of_one_signal_in_one_batch_give_one_final_execution as fills_crash
from test_gateway_kill import SECONDS, check_exactly_once, patient_config, patient_mesh, signals_under_kills
from test_stage_crash import test_router as router_crash

from nexus_protocol import Names, OrderStatus
from nexus_testing import Services

pytestmark = pytest.mark.cluster


@pytest.fixture(autouse=True)
def _patient(services: Services, tmp_path: Path) -> None:
    """Signals stay fresh for 2 minutes: a stage started, killed and started again on a loaded machine
    may take longer than the 10 s default to read them (the imported tests use the default config)."""
    services.defaults["NX_CONFIG_DIR"] = patient_config(tmp_path)


@pytest.mark.chaos
def test_the_router_killed_after_its_commit(client: redis.Redis, names: Names, services: Services) -> None:
    router_crash(client, names, services, "after_commit")


@pytest.mark.chaos
def test_the_fills_stage_killed_after_its_commit(
    client: redis.Redis, names: Names, services: Services
) -> None:
    fills_crash(client, names, services, "after_commit")


@pytest.mark.chaos
def test_the_router_cut_between_its_slots(client: redis.Redis, names: Names, services: Services) -> None:
    router_crash(client, names, services, "mid_commit")
    assert services.redis_url.startswith("redis+cluster://")
    first, second = services.started
    assert "fault injection: SIGKILL mid_commit" in first.log()
    assert "running the outbox entry" in second.log()
    assert not client.hlen(names.state("router", "outbox"))


NQ_VENUES = ("nt8", "sierra", "quantower", "mt5-global", "bookmap")


@pytest.mark.slow
def test_the_mesh_on_a_cluster_one_signal_to_every_platform_then_kills(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path
) -> None:
    mesh = patient_mesh(services, client, names, NQ_VENUES, tmp_path)
    first = mesh.signal("NQ", "buy", 1, venues=NQ_VENUES)
    final = mesh.final(first, timeout_s=60)
    assert final.status is OrderStatus.FILLED and sorted(leg.venue for leg in final.legs) == sorted(NQ_VENUES)
    sids = [first, *signals_under_kills(mesh, NQ_VENUES, SECONDS / 2)]
    check_exactly_once(client, names, sids, NQ_VENUES)
