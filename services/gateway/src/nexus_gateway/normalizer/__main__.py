"""`python -m nexus_gateway.normalizer`"""

from __future__ import annotations

from nexus_gateway.normalizer.config import NormalizerSettings
from nexus_gateway.normalizer.service import build
from nexus_mesh.runner import run_service

if __name__ == "__main__":
    raise SystemExit(run_service(NormalizerSettings, build))
