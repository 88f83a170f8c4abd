"""Normalizer settings (NX_ prefix)."""

from __future__ import annotations

from pydantic import Field

from nexus_mesh.settings import MeshSettings


class NormalizerSettings(MeshSettings):
    service: str = "normalizer"
    environment: str = "dev"  # which venues' market data to read (venues.yaml)
    contracts_refresh_s: float = Field(default=0.5, gt=0)  # how stale the active-contract cache may get
