"""`python -m nexus_mesh.healthcheck`: exit 0 when this container's service answers on /metrics.

The images' HEALTHCHECK. It reads the same settings as the service (NX_METRICS_HOST, NX_METRICS_PORT), so
it follows the service wherever it listens: a private network (0.0.0.0) or the host's (a loopback address).
"""

from __future__ import annotations

import os
import sys
import urllib.request

WILDCARD = {"", "0.0.0.0", "::"}


def url(env: dict[str, str]) -> str | None:
    port = env.get("NX_METRICS_PORT", "")
    if not port or port == "0":
        return None
    host = env.get("NX_METRICS_HOST", "")
    host = "127.0.0.1" if host in WILDCARD else host
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/metrics"


def main() -> int:
    target = url(dict(os.environ))
    if target is None:
        print("healthcheck: NX_METRICS_PORT is not set: nothing to check", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(target, timeout=10) as resp:  # the HEALTHCHECK timeout governs
            return 0 if resp.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck: {target}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
