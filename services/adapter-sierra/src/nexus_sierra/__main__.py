"""`python -m nexus_sierra`: the Sierra Chart adapter (NX_SIERRA_* settings, see `config`)."""

from __future__ import annotations

import redis

from nexus_mesh.runner import run_service
from nexus_sierra.adapter import SierraAdapter
from nexus_sierra.config import SierraSettings


def build(settings: SierraSettings, client: redis.Redis) -> SierraAdapter:
    return SierraAdapter(settings, client)


if __name__ == "__main__":
    raise SystemExit(run_service(SierraSettings, build))
