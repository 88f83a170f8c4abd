"""alembic's head builds exactly `nexus_archive.schema`, on both databases; readers refuse an archive
that is behind."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from nexus_archive.engine import open_engine
from nexus_archive.migrate import ArchiveError, current, head, require_head, upgrade
from nexus_archive.schema import metadata


def test_head_builds_the_schema_module_and_upgrading_again_changes_nothing(archive_url: str) -> None:
    engine = open_engine(archive_url)
    with pytest.raises(ArchiveError, match="has no schema yet"):
        require_head(engine)
    upgrade(engine)
    upgrade(engine)
    assert current(engine) == head()
    require_head(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    engine.dispose()
