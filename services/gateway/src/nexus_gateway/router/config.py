"""Router settings (NX_ prefix)."""

from __future__ import annotations

from nexus_mesh.settings import MeshSettings


class RouterSettings(MeshSettings):
    service: str = "router"
    environment: str = "dev"  # which block of venues.yaml and risk.yaml applies
