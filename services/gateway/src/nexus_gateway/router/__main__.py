"""`python -m nexus_gateway.router`"""

from __future__ import annotations

from nexus_gateway.router.config import RouterSettings
from nexus_gateway.router.service import build
from nexus_mesh.runner import run_service

if __name__ == "__main__":
    raise SystemExit(run_service(RouterSettings, build))
