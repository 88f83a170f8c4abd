"""`python -m nexus_gateway.recorder`"""

from __future__ import annotations

from nexus_gateway.recorder.config import RecorderSettings
from nexus_gateway.recorder.service import build
from nexus_mesh.runner import run_service

if __name__ == "__main__":
    raise SystemExit(run_service(RecorderSettings, build))
