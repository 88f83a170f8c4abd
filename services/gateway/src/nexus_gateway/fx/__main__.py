"""`python -m nexus_gateway.fx`: converts normalized fills to USD (docs/fx.md)."""

from __future__ import annotations

from nexus_gateway.fx.config import FxSettings
from nexus_gateway.fx.service import build
from nexus_mesh.runner import run_service

if __name__ == "__main__":
    raise SystemExit(run_service(FxSettings, build))
