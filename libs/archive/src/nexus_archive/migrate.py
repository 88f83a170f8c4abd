"""Schema migrations (alembic): bring an archive to the schema this code reads and writes.

The recorder upgrades its archive when it starts; nexusctl commands that only read check that the
archive is at the head revision and say how to upgrade it when it is not. On PostgreSQL an advisory
lock makes two recorders starting together migrate one after the other.
"""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from nexus_protocol.errors import NexusError

_LOCK_KEY = 0x6E78_6172_6368  # "nxarch": the advisory lock of archive migrations


class ArchiveError(NexusError):
    """The archive cannot be used as it is (missing, behind this code's schema, not empty...)."""


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "nexus_archive:migrations")
    return cfg


def head() -> str:
    rev = ScriptDirectory.from_config(config()).get_current_head()
    assert rev is not None
    return rev


def current(bind: Engine | Connection) -> str | None:
    if isinstance(bind, Connection):
        return MigrationContext.configure(bind).get_current_revision()
    with bind.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Back to `revision` (the columns of later revisions are dropped with their values)."""
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    cfg = config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        cfg.attributes["connection"] = conn
        step(cfg, revision)


def require_head(engine: Engine) -> None:
    """Raise ArchiveError unless the archive is at this code's schema."""
    have, want = current(engine), head()
    if have == want:
        return
    state = "has no schema yet" if have is None else f"is at revision {have}"
    raise ArchiveError(
        f"the archive {state}; this code needs {want}: start the recorder or run `nexusctl archive upgrade`"
    )
