"""`python -m nexus_gateway.sim_venue`: one simulated venue (NX_VENUE names it)."""

from __future__ import annotations

import redis

from nexus_gateway.sim_venue.adapter import SimVenue
from nexus_gateway.sim_venue.config import SimVenueSettings
from nexus_mesh.runner import run_service


def build(settings: SimVenueSettings, client: redis.Redis) -> SimVenue:
    return SimVenue(settings, client)


if __name__ == "__main__":
    raise SystemExit(run_service(SimVenueSettings, build))
