"""Fill aggregator settings (NX_ prefix)."""

from __future__ import annotations

from nexus_mesh.settings import MeshSettings


class FillsSettings(MeshSettings):
    service: str = "fills"
