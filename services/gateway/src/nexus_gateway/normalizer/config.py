"""Normalizer settings (NX_ prefix)."""

from __future__ import annotations

from nexus_mesh.settings import MeshSettings


class NormalizerSettings(MeshSettings):
    service: str = "normalizer"
    environment: str = "dev"  # which venues' market data to read (venues.yaml)
