"""The recorder SIGKILLed mid-batch, into SQLite and PostgreSQL: after a restart every message is in
the archive exactly once and every entry is acknowledged. First at the exact boundaries (after the
read, after the commit and before the acknowledgement), then at random moments under a backlog.

NX_CHAOS_SECONDS lengthens the random part (default: short, for CI)."""

from __future__ import annotations

import os
import random
import time

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from nexus_archive import schema
from nexus_archive.engine import open_engine
from nexus_archive.recorded import GROUP, recorded_streams
from nexus_protocol import Names
from nexus_protocol.codec import encode
from nexus_testing import Services, wait_for
from nexus_testing.archive import Sample, archived_rows, event_sample, signal_life

SECONDS = float(os.environ.get("NX_CHAOS_SECONDS", "6"))
MS = 1_795_000_000_000
VENUES = ("mt5-brazil", "mt5-global", "nt8", "quantower", "sierra")


def backlog(n: int, offset: int = 0) -> list[Sample]:
    out: list[Sample] = []
    for i in range(offset, offset + n):
        out += [*signal_life(f"K{i:05d}", MS + i, venue=VENUES[i % len(VENUES)]), event_sample(MS + i, i)]
    return out


def publish(client: redis.Redis, names: Names, samples: list[Sample]) -> None:
    pipe = client.pipeline(transaction=False)
    for s in samples:
        pipe.xadd(names.stream(s.stream), encode(s.env))  # type: ignore[arg-type]
    pipe.execute()


def archived(url: str) -> dict[tuple[str, str], int]:
    """(stream, id) -> how many rows hold it, over every message table."""
    engine = open_engine(url)
    seen: dict[tuple[str, str], int] = {}
    try:
        with engine.connect() as conn:
            for t in schema.MESSAGE_TABLES:
                for stream, mid in conn.execute(select(t.c.stream, t.c.id)):
                    seen[(stream, mid)] = seen.get((stream, mid), 0) + 1
    except DBAPIError:
        return {}
    finally:
        engine.dispose()
    return seen


def settled(client: redis.Redis, names: Names) -> bool:
    for s in recorded_streams(VENUES):
        for g in client.xinfo_groups(names.stream(s)):
            if g["name"] in (GROUP, GROUP.encode()) and (int(g["pending"]) or int(g.get("lag") or 0)):
                return False
    return True


def check_exactly_once(url: str, samples: list[Sample]) -> None:
    got = archived(url)
    want = {(s.stream, s.env.id) for s in samples}
    missing = want - set(got)
    assert not missing, f"{len(missing)} messages missing, e.g. {sorted(missing)[:3]}"
    assert all(n == 1 for n in got.values())
    assert set(got) == want


@pytest.mark.parametrize("point", ["after_read", "after_commit"])
def test_killed_at_a_batch_boundary(
    point: str, archive_url: str, client: redis.Redis, names: Names, services: Services
) -> None:
    samples = backlog(60)
    publish(client, names, samples)
    env = {"NX_ARCHIVE_URL": archive_url, "NX_BATCH_SIZE": "50", "NX_CLAIM_IDLE_MS": "500"}
    rec = services.start(
        "nexus_gateway.recorder", name="recorder", NX_FAULT_KILL_AT=point, NX_FAULT_KILL_BATCH="3", **env
    )
    assert rec.proc is not None
    rec.proc.wait(60)
    assert "fault injection: SIGKILL" in rec.log()
    if point == "after_commit":
        assert archived_rows(archive_url) > 0  # batches 1-3 committed, batch 3 never acknowledged
    services.start("nexus_gateway.recorder", name="recorder-2", **env)
    wait_for(lambda: settled(client, names), timeout_s=60, what="every entry acknowledged")
    check_exactly_once(archive_url, samples)


@pytest.mark.slow
def test_killed_at_random_moments_under_a_backlog(
    archive_url: str, client: redis.Redis, names: Names, services: Services
) -> None:
    rng = random.Random(18)
    env = {"NX_ARCHIVE_URL": archive_url, "NX_BATCH_SIZE": "200", "NX_CLAIM_IDLE_MS": "500"}
    samples = backlog(150)
    publish(client, names, samples)
    rec = services.start("nexus_gateway.recorder", name="recorder", **env)
    wait_for(lambda: archived_rows(archive_url) > 0, timeout_s=90, what="the recorder's first commit")
    end = time.monotonic() + SECONDS
    kills = 0
    while time.monotonic() < end or kills == 0:
        more = backlog(150, offset=len(samples) // 9)
        publish(client, names, more)
        samples += more
        time.sleep(rng.uniform(0.05, 0.6))
        if rng.random() < 0.6:
            rec.sigkill()  # somewhere in a batch: reading, mapping, inside the transaction, or acknowledging
            kills += 1
            rec = services.start("nexus_gateway.recorder", name=f"recorder-{kills}", **env)
    assert kills > 0
    wait_for(lambda: settled(client, names), timeout_s=120, what="every entry acknowledged")
    check_exactly_once(archive_url, samples)
