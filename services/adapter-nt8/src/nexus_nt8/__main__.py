"""`python -m nexus_nt8`: one NinjaTrader 8 or Quantower adapter (NX_VENUE, NX_NT8_MODE pick which)."""

from __future__ import annotations

import redis

from nexus_mesh.adapter import Adapter
from nexus_mesh.runner import run_service
from nexus_nt8.config import Nt8Mode, Nt8Settings


def build(settings: Nt8Settings, client: redis.Redis) -> Adapter:
    settings.check()
    if settings.nt8_mode is Nt8Mode.BRIDGE:
        from nexus_nt8.adapter import Nt8Adapter

        return Nt8Adapter(settings, client)
    from nexus_nt8.ati import AtiAdapter

    return AtiAdapter(settings, client)


if __name__ == "__main__":
    raise SystemExit(run_service(Nt8Settings, build))
