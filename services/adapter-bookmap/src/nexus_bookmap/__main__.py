"""`python -m nexus_bookmap`: the Bookmap adapter, the add-on's WebSocket server (see `config`)."""

from __future__ import annotations

import redis

from nexus_bookmap.adapter import BookmapAdapter
from nexus_bookmap.config import BookmapSettings
from nexus_mesh.runner import run_service


def build(settings: BookmapSettings, client: redis.Redis) -> BookmapAdapter:
    settings.check()
    return BookmapAdapter(settings, client)


if __name__ == "__main__":
    raise SystemExit(run_service(BookmapSettings, build))
