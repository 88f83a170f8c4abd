"""`python -m nexus_gateway.rollover`: the active contract of every dated root (docs/rollover.md)."""

from __future__ import annotations

from nexus_gateway.rollover.config import RolloverSettings
from nexus_gateway.rollover.service import build
from nexus_mesh.runner import run_service

if __name__ == "__main__":
    raise SystemExit(run_service(RolloverSettings, build))
