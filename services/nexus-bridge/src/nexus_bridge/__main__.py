"""`python -m nexus_bridge`: the bridge service (filters, duplicate prevention, circuit breakers)."""

from __future__ import annotations

from nexus_bridge.config import BridgeSettings
from nexus_bridge.service import build
from nexus_mesh.runner import run_service

if __name__ == "__main__":
    raise SystemExit(run_service(BridgeSettings, build))
