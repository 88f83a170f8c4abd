"""`python -m nexus_ingress`: signals over HTTP(S) into the bridge intake (docs/ingress.md)."""

from __future__ import annotations

from nexus_ingress.config import IngressSettings
from nexus_ingress.server import build
from nexus_mesh.runner import run_service


def main() -> int:
    return run_service(IngressSettings, build)


if __name__ == "__main__":
    raise SystemExit(main())
