"""`nexusctl eod` on an archive with known contents (SQLite and PostgreSQL) and a real Redis: each item
that fails is named and the exit code is 1; explanations, a backup and the missing execution make it
pass; pending entries and a recorder behind are caught."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import redis

from nexus_archive.engine import open_engine
from nexus_archive.migrate import upgrade
from nexus_archive.rows import rows
from nexus_archive.store import ArchiveStore
from nexus_mesh.session import TradingSession
from nexus_protocol import Names
from nexus_protocol.codec import encode
from nexus_testing import REPO_ROOT
from nexus_testing.archive import Sample, dead_letter_sample, signal_life

MS = 1_795_000_000_000
DAY = TradingSession().session_day(dt.datetime.fromtimestamp(MS / 1000, dt.UTC))
NOW = dt.datetime.fromtimestamp(MS / 1000, dt.UTC)


def nexusctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "nexusctl"), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def archive(url: str, namespace: str, samples: list[Sample]) -> None:
    engine = open_engine(url)
    upgrade(engine)
    ArchiveStore(engine).write_all([rows(namespace, s.stream, s.entry_id, s.env, NOW) for s in samples])
    engine.dispose()


def test_eod_names_each_failed_item_then_passes(
    archive_url: str, redis_url: str, names: Names, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    env.update(
        NX_REDIS_URL=redis_url, NX_NAMESPACE=names.namespace, NX_ARCHIVE_URL=archive_url,
        NX_DATA_DIR=str(tmp_path), COLUMNS="200",
    )  # fmt: skip
    done, open_ = signal_life("E1", MS), signal_life("E2", MS + 100)
    dl = dead_letter_sample(MS + 200)
    archive(archive_url, names.namespace, [*done, *open_[:-1], dl])
    day = f"{DAY[:4]}-{DAY[4:6]}-{DAY[6:]}"
    out = nexusctl(env, "eod", "--day", day)
    assert out.returncode == 1, out.stdout + out.stderr
    failed = out.stdout.split("failed:", 1)[1]
    assert "signals final" in failed and "dead letters" in failed and "backup" in failed
    assert "positions" not in failed and "nothing pending" not in failed and "archive caught up" not in failed
    assert "E2" in out.stdout and dl.env.id in out.stdout

    archive(archive_url, names.namespace, open_[-1:])  # the missing final execution arrives
    out = nexusctl(env, "eod", "--day", day, "--backup", "--explain", f"{dl.env.id}=junk from a test sender")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "every item passed" in out.stdout and "trades 2" in out.stdout
    assert list((tmp_path / "backups").glob("archive-*"))

    client = redis.Redis.from_url(redis_url)  # an entry left pending, and a recorder that is behind
    client.xadd(names.signals, encode(done[0].env))  # type: ignore[arg-type]
    client.xgroup_create(names.signals, "recorder", id="0")
    client.xgroup_create(names.signals, "router", id="0")
    client.xreadgroup("router", "r1", {names.signals: ">"})
    out = nexusctl(env, "eod", "--day", day)
    assert out.returncode == 1
    failed = out.stdout.split("failed:", 1)[1]
    assert "nothing pending" in failed and "archive caught up" in failed
    assert "signals: 1 unread" in out.stdout
    client.close()
