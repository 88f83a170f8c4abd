"""`python -m nexus_gateway.fills`"""

from __future__ import annotations

from nexus_gateway.fills.config import FillsSettings
from nexus_gateway.fills.service import build
from nexus_mesh.runner import run_service

if __name__ == "__main__":
    raise SystemExit(run_service(FillsSettings, build))
