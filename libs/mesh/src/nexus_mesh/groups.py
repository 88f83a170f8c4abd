"""Consumer groups: created before any producer writes, recreated loudly when they vanish.

Order and fill groups start at `0` with MKSTREAM, so nothing written before the consumer first ran is
skipped. A NOGROUP later means the stream itself was lost (FLUSH, a restart without persistence, a
failover to an empty replica): the group is recreated, and the caller raises a critical event and
reconciles, because whatever was pending is gone.
"""

from __future__ import annotations

import redis


def ensure_group(client: redis.Redis, stream: str, group: str, start_id: str = "0") -> bool:
    """Create `group` on `stream` (and the stream). True if created now, False if it existed."""
    try:
        client.xgroup_create(stream, group, id=start_id, mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" in str(exc):
            return False
        raise
    return True


def is_nogroup(exc: BaseException) -> bool:
    """NOGROUP, or (Redis 7) a blocked read woken because its stream was deleted."""
    if not isinstance(exc, redis.ResponseError):
        return False
    text = str(exc).split("caused error: ", 1)[-1]  # a pipeline prefixes the command that failed
    return text.startswith(("NOGROUP", "UNBLOCKED"))
