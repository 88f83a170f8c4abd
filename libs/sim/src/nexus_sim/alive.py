"""`python -m nexus_sim.alive [PORT]`: a platform simulator's container healthcheck.

With a port: healthy when the simulator accepts a connection there, at its listening address
(NX_SIM_HOST, as the simulator reads it; a wildcard means this host's loopback), so the check follows it
onto a private network or the host's. Without a port: healthy while it runs. A simulator that dials its
adapter, as NinjaTrader's AddOn and the Bookmap add-on do, listens on nothing; its adapter's link
(`nexusctl status`) says whether it got through. Exit 0 healthy, 1 not.
"""

from __future__ import annotations

import os
import socket
import sys

WILDCARD = {"", "0.0.0.0", "::"}


def target(port: str, env: dict[str, str]) -> tuple[str, int]:
    host = env.get("NX_SIM_HOST", "")
    return ("127.0.0.1" if host in WILDCARD else host), int(port)


def main(argv: list[str]) -> int:
    if not argv:
        return 0  # this process ran: the simulator's container is up
    addr = target(argv[0], dict(os.environ))
    try:
        with socket.create_connection(addr, timeout=5):
            return 0
    except OSError as exc:
        print(f"alive: {addr[0]}:{addr[1]}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
