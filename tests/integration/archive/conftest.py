"""An archive at the head schema on each database (fixtures `archive_url` etc. from nexus_testing.archive)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine

from nexus_archive.engine import open_engine
from nexus_archive.migrate import upgrade
from nexus_archive.rows import Rows, rows
from nexus_testing.archive import Sample

NOW = dt.datetime(2026, 12, 1, 22, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(archive_url: str) -> Iterator[Engine]:
    e = open_engine(archive_url)
    upgrade(e)
    yield e
    e.dispose()


def to_rows(samples: Sequence[Sample], namespace: str = "nx") -> list[Rows]:
    return [rows(namespace, s.stream, s.entry_id, s.env, NOW) for s in samples]
