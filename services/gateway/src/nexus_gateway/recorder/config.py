"""Recorder settings (NX_ prefix)."""

from __future__ import annotations

from pydantic import Field

from nexus_mesh.settings import MeshSettings


class RecorderSettings(MeshSettings):
    service: str = "recorder"
    environment: str = "dev"  # whose venues' order streams to record (venues.yaml)
    archive_url: str | None = None  # PostgreSQL (postgresql://...); unset: SQLite under NX_DATA_DIR
    batch_size: int = Field(default=500, ge=1, le=10_000)  # entries per read, one transaction each
    archive_retry_max_s: float = Field(
        default=5.0, gt=0
    )  # longest wait between attempts while the DB is down
