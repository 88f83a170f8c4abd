"""Which database, and how to open it: NX_ARCHIVE_URL, else a SQLite file under the data folder.

PostgreSQL URLs (`postgresql://`, `postgres://`, `postgresql+psycopg://`) use psycopg 3. SQLite runs
in WAL mode (the recorder writes while nexusctl reads) with `synchronous=FULL`: a commit is on disk
before the recorder acknowledges its entries, so power loss cannot take an acknowledged entry with
it; batching many entries per transaction pays for the fsync.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from nexus_protocol.errors import ConfigError

DEFAULT_FILE = "archive.db"
_PG = ("postgresql", "postgres", "postgresql+psycopg")


def archive_url(url: str | None, data_dir: Path) -> str:
    """The archive's SQLAlchemy URL: `url` (NX_ARCHIVE_URL) or `sqlite:///<data_dir>/archive.db`.

    A URL of another kind raises ConfigError naming NX_ARCHIVE_URL."""
    if not url:
        return f"sqlite:///{(Path(data_dir) / DEFAULT_FILE).resolve()}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"NX_ARCHIVE_URL={redacted(url)}: not a database URL") from None
    if parsed.drivername in _PG:
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError("NX_ARCHIVE_URL: an SQLite archive needs a file (sqlite:////path/archive.db)")
        return url
    raise ConfigError(
        f"NX_ARCHIVE_URL={redacted(url)}: want postgresql://... or sqlite:///path (got {parsed.drivername})"
    )


def redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str | URL) -> Path:
    db = make_url(url).database
    if not db:
        raise ConfigError(f"{url}: no SQLite file")
    return Path(db)


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def open_engine(url: str) -> Engine:
    """An engine for the archive (the file's folder is created for SQLite)."""
    if is_sqlite(url):
        sqlite_file(url).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)
