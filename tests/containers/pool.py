"""An adapter service scaled to one account per instance (NX_VENUE_POOL, decision 0020), made from the
compose files' own adapters: two adapter services of one image and command, for venues that trade NQ,
become one service `adapter-pool`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

POOL = "adapter-pool"


def pool_two_adapters(config: dict[str, Any], root: Path, redis_url: str | None = None) -> list[str]:
    """Replace two adapter services by one with NX_VENUE_POOL of their venues (returned), connecting as
    `redis_url` (default: the router's). Dev's adapters each face their own platform simulator with
    settings of their own (ports, tokens), so the pool plays both venues with the generic simulated venue
    (the router's image), which any venue name can be; the two adapters and their simulators leave."""
    dev = yaml.safe_load((root / "deploy/config/venues.yaml").read_text())["environments"]["dev"]
    groups: dict[str, list[str]] = {}
    for name, svc in sorted(config["services"].items()):
        venue = (svc.get("environment") or {}).get("NX_VENUE")
        if venue and "NQ" in dev.get(venue, {}).get("symbols", []):
            groups.setdefault(json.dumps([svc.get("image"), svc.get("command")]), []).append(name)
    names = next(g for g in groups.values() if len(g) >= 2)[:2]
    venues = [config["services"][n]["environment"]["NX_VENUE"] for n in names]
    router = config["services"]["router"]  # the mesh's own settings, the gateway's image
    env = {k: v for k, v in router["environment"].items() if k != "NX_SERVICE"}
    config["services"][POOL] = {
        **router,
        "command": ["python", "-m", "nexus_gateway.sim_venue"],
        "environment": {
            **env,
            "NX_VENUE_POOL": ",".join(venues),
            **({"NX_REDIS_URL": redis_url} if redis_url else {}),
        },
    }
    for n, venue in zip(names, venues, strict=True):
        del config["services"][n]
        config["services"].pop(f"sim-{venue}", None)
    return venues
