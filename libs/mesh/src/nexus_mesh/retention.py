"""Retention: order and fill streams keep NX_RETENTION_DAYS, trimmed by MINID, never past a reader.

Redis before 8.2 trims regardless of consumer groups, so an entry still pending or not yet delivered
could vanish with its payload. `safe_trim` therefore trims only below the oldest entry that any group
on the stream still has pending or undelivered, and never above the retention cutoff.
"""

from __future__ import annotations

import redis

from nexus_mesh.connection import as_str


def _id_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def safe_trim(client: redis.Redis, stream: str, cutoff_ms: int) -> int:
    """Trim `stream` by MINID at min(cutoff, oldest pending, oldest undelivered). Returns entries removed."""
    floor_ms = cutoff_ms
    try:
        groups = client.xinfo_groups(stream)
    except redis.ResponseError:
        return 0
    for g in groups:
        if int(g.get("pending") or 0):
            summary = client.xpending(stream, g["name"])
            oldest = summary.get("min")
            if oldest:
                floor_ms = min(floor_ms, _id_ms(as_str(oldest)))
        last = g.get("last-delivered-id")
        if last:
            floor_ms = min(floor_ms, _id_ms(as_str(last)))  # entries after it are undelivered to this group
    if floor_ms <= 0:
        return 0
    return int(client.xtrim(stream, minid=f"{floor_ms}-0", approximate=False))
