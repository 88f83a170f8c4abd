"""Backup and restore on both databases: a restore into an empty database has the same row counts and
checksums as the backup (taken while the recorder writes); damaged or misplaced backups are refused."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from nexus_archive.backup import Manifest, backup, digests, manifest_path, restore
from nexus_archive.engine import open_engine
from nexus_archive.migrate import ArchiveError
from nexus_archive.store import ArchiveStore
from nexus_testing.archive import (
    create_database,
    dead_letter_sample,
    drop_database,
    event_sample,
    signal_life,
)

from .conftest import to_rows

MS = 1_795_000_000_000


def fill(engine: Engine, signals: int, start: int = 0) -> None:
    store = ArchiveStore(engine)
    for i in range(start, start + signals):
        store.write_all(
            to_rows(
                [*signal_life(f"S{i:05d}", MS + i * 100, pnl=i % 7 - 3), event_sample(MS + i * 100 + 50, i)]
            )
        )


def empty_target(archive_url: str, tmp_path: Path, name: str) -> str:
    if archive_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/{name}.db"
    db = f"{archive_url.rsplit('/', 1)[1]}_{name}"
    create_database(db)
    return archive_url.rsplit("/", 1)[0] + "/" + db


def test_restore_into_an_empty_database_has_the_same_rows_and_checksums(
    archive_url: str, engine: Engine, tmp_path: Path
) -> None:
    fill(engine, 30)
    ArchiveStore(engine).write_all(to_rows([dead_letter_sample(MS + 9000)]))
    ArchiveStore(engine).note("nx", "some-dead-letter", "explained", "ops")
    # the recorder goes on writing while the backup is taken: the manifest counts what the copy holds
    writer = threading.Thread(target=fill, args=(engine, 40, 1000))
    writer.start()
    path, manifest = backup(archive_url, tmp_path / "backups")
    writer.join()
    assert manifest_path(path).exists() and Manifest.read(manifest_path(path)).sha256 == manifest.sha256
    assert manifest.tables["signals"]["rows"] >= 30 and manifest.tables["notes"]["rows"] == 1
    target = empty_target(archive_url, tmp_path, "restored")
    try:
        restored = restore(path, target)
        assert restored.tables == manifest.tables
        copy = open_engine(target)
        with copy.connect() as conn:
            assert digests(conn) == manifest.tables
        copy.dispose()
        # a second restore onto the now full database is refused
        with pytest.raises(ArchiveError, match="not empty"):
            restore(path, target)
    finally:
        if not target.startswith("sqlite"):
            drop_database(target.rsplit("/", 1)[1])
    with engine.connect() as conn:
        assert digests(conn)["signals"]["rows"] == 70  # the live archive has everything


def test_a_damaged_backup_is_refused(archive_url: str, engine: Engine, tmp_path: Path) -> None:
    fill(engine, 3)
    path, _ = backup(archive_url, tmp_path / "backups")
    with path.open("r+b") as f:
        f.seek(200)
        f.write(b"\xde\xad")
    target = f"sqlite:///{tmp_path}/t.db" if archive_url.startswith("sqlite") else archive_url
    with pytest.raises(ArchiveError, match="damaged"):
        restore(path, target)
