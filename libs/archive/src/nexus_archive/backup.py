"""Backups of the archive and their restore, proved by row counts and checksums.

A backup is one consistent copy, taken while the recorder keeps writing: `pg_dump` (custom format,
one snapshot) for PostgreSQL, SQLite's online backup API for SQLite. Beside it goes a manifest
(`<name>.json`): when, from where, the file's SHA-256, the schema revision, and per table its row
count and a checksum of its rows in key order (`digests`). `restore` loads a backup into an *empty*
database and then compares the restored tables with the manifest: any difference fails the restore.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Text, inspect, select, text
from sqlalchemy.engine import make_url

from nexus_archive import schema
from nexus_archive.engine import is_sqlite, open_engine, redacted, sqlite_file
from nexus_archive.migrate import ArchiveError, current

_DIGEST_FETCH = 10_000


def _canon(v: Any) -> str:
    """One spelling per value on either database (Decimal normalized, times in UTC)."""
    if v is None:
        return "\x00"
    if isinstance(v, Decimal):
        return format(v.normalize(), "f")
    if isinstance(v, float):
        return format(Decimal(repr(v)).normalize(), "f")
    if isinstance(v, dt.datetime):
        return (v if v.tzinfo else v.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat()
    if isinstance(v, bytes | memoryview):
        return bytes(v).hex()
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    return str(v)


def _binary_order(conn: Connection, col: Any) -> Any:
    """Keys in byte order on either database (PostgreSQL would sort text by its locale)."""
    return col.collate("C") if conn.dialect.name == "postgresql" and isinstance(col.type, Text) else col


def digests(conn: Connection) -> dict[str, dict[str, Any]]:
    """Per table: rows and the SHA-256 of its rows in primary-key order."""
    out: dict[str, dict[str, Any]] = {}
    for table in schema.metadata.sorted_tables:
        h, n = hashlib.sha256(), 0
        q = select(table).order_by(*(_binary_order(conn, c) for c in table.primary_key.columns))
        for row in conn.execution_options(yield_per=_DIGEST_FETCH).execute(q):
            h.update("\x1f".join(_canon(v) for v in row).encode())
            h.update(b"\x1e")
            n += 1
        out[table.name] = {"rows": n, "sha256": h.hexdigest()}
    return out


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Manifest:
    kind: str  # sqlite | postgresql
    file: str  # the backup's file name, beside the manifest
    created_at: str
    source: str  # the archive URL, password hidden
    revision: str | None
    sha256: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(int(t["rows"]) for t in self.tables.values())

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise ArchiveError(f"{path}: not a backup manifest ({exc})") from None


def manifest_path(backup_file: Path) -> Path:
    return backup_file.with_name(backup_file.name + ".json")


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """pg_dump / pg_restore connection arguments; the password goes in the environment, not argv."""
    u = make_url(url)
    args = ["--host", u.host or "localhost", "--port", str(u.port or 5432), "--dbname", u.database or ""]
    if u.username:
        args += ["--username", u.username]
    env = {**os.environ, "PGPASSWORD": u.password} if u.password else dict(os.environ)
    return args, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ArchiveError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise ArchiveError(f"{Path(cmd[0]).name} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")


def _sqlite_copy(src_file: Path, dst_file: Path) -> None:
    src, dst = sqlite3.connect(src_file), sqlite3.connect(dst_file)
    try:
        src.backup(dst)  # the online backup API: a consistent copy while others write
    finally:
        dst.close()
        src.close()


def _sqlite_backup(url: str, path: Path) -> tuple[dict[str, dict[str, Any]], str | None]:
    _sqlite_copy(sqlite_file(url), path)
    copy = open_engine(f"sqlite:///{path.resolve()}")
    try:
        with copy.connect() as conn:
            return digests(conn), current(conn)
    finally:
        copy.dispose()


def _pg_backup(url: str, path: Path) -> tuple[dict[str, dict[str, Any]], str | None]:
    """pg_dump and the digests read one exported snapshot: the manifest counts exactly what the dump
    holds while the recorder goes on writing."""
    args, env = _libpq(url)
    engine = open_engine(url)
    try:
        with engine.connect() as c:
            conn = c.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                cmd = [_tool("pg_dump"), *args, "--format=custom", "--no-owner", f"--snapshot={snapshot}"]
                _run([*cmd, "--file", str(path)], env)
                return digests(conn), current(conn)
    finally:
        engine.dispose()


def backup(url: str, out_dir: Path, *, now: dt.datetime | None = None) -> tuple[Path, Manifest]:
    """A consistent copy of the archive at `url` in `out_dir`, and its manifest beside it."""
    now = now or dt.datetime.now(dt.UTC)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    if is_sqlite(url):
        kind, path = "sqlite", out_dir / f"archive-{stamp}.db"
        tables, revision = _sqlite_backup(url, path)
    else:
        kind, path = "postgresql", out_dir / f"archive-{stamp}.dump"
        tables, revision = _pg_backup(url, path)
    manifest = Manifest(kind, path.name, now.isoformat(), redacted(url), revision, _file_sha256(path), tables)
    manifest.write(manifest_path(path))
    return path, manifest


def is_empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


def restore(backup_file: Path, url: str, *, force: bool = False) -> Manifest:
    """Load `backup_file` into the (empty) database at `url`, then prove it: every table's row count
    and checksum must equal the manifest's. `force` replaces a database that is not empty."""
    manifest = Manifest.read(manifest_path(backup_file))
    if _file_sha256(backup_file) != manifest.sha256:
        raise ArchiveError(f"{backup_file}: its SHA-256 differs from the manifest's: the file is damaged")
    kind = "sqlite" if is_sqlite(url) else "postgresql"
    if kind != manifest.kind:
        raise ArchiveError(f"{backup_file} is a {manifest.kind} backup; {redacted(url)} is {kind}")
    engine = open_engine(url)
    try:
        if not force and not is_empty(engine):
            raise ArchiveError(f"{redacted(url)} is not empty: restore into an empty database (or --force)")
        engine.dispose()
        if kind == "sqlite":
            _sqlite_copy(backup_file, sqlite_file(url))
        else:
            args, env = _libpq(url)
            clean = ["--clean", "--if-exists"] if force else []
            _run([_tool("pg_restore"), *args, "--no-owner", "--exit-on-error", *clean, str(backup_file)], env)
        with engine.connect() as conn:
            got = digests(conn)
    finally:
        engine.dispose()
    wrong = [
        f"{name}: {want['rows']} rows expected, {got.get(name, {}).get('rows', 0)} restored"
        if got.get(name, {}).get("rows") != want["rows"]
        else f"{name}: checksum differs"
        for name, want in manifest.tables.items()
        if got.get(name) != want
    ]
    if wrong:
        raise ArchiveError("the restored archive differs from the backup: " + "; ".join(wrong))
    return manifest
