"""How far a consumer group is behind its stream, counted from the stream's entries, not from a counter.

XINFO GROUPS's `lag` is Redis's bookkeeping (entries added to the stream minus the group's
entries-read counter). It is not true after a restart: Redis 7.0 does not restore a group's
entries-read from the AOF (the field comes back empty, and the lag with it, or an estimate from
counters that no longer match: a storm saw "lag 3264" on a group whose last-delivered id was the
stream's last id, with nothing pending). An alarm on it is a false alarm.

`group_lag` answers from what is there: the group's last-delivered id against the stream's newest
entry (the same or later: nothing is behind, 0), else the entries after it, counted by Redis in a
script (`XRANGE (last-delivered + COUNT limit`, so no entry crosses the network) up to `limit`. A
count of `limit` means "at least that many". None means unknown: the stream or the group is gone, or
the count could not be made; never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

from nexus_mesh.connection import as_str
from nexus_mesh.scripts import LuaScript, run_pipeline

DEFAULT_LIMIT = 100_000

COUNT_AFTER = LuaScript(
    "local got = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))\n"
    "return #got\n",
    read_only=True,  # `nexusctl status` counts as the ops user, who only reads the streams
)


def _id(raw: Any) -> tuple[int, int]:
    ms, _, seq = as_str(raw).partition("-")
    return int(ms), int(seq or 0)


def group_lag(
    client: redis.Redis, stream: str, group: Mapping[Any, Any], limit: int = DEFAULT_LIMIT
) -> int | None:
    """Entries of `stream` after `group`'s last-delivered id (an XINFO GROUPS row), at most `limit`."""
    last = group.get("last-delivered-id")
    if last is None:
        return None
    try:
        newest: Any = client.xrevrange(stream, count=1)
        if not newest or _id(newest[0][0]) <= _id(last):
            return 0
        [count] = run_pipeline(
            client, lambda p: COUNT_AFTER.queue(p, [stream], [as_str(last), limit]), [COUNT_AFTER]
        )
    except redis.RedisError:
        return None
    return int(count)


def groups_lag(client: redis.Redis, stream: str, limit: int = DEFAULT_LIMIT) -> dict[str, int | None]:
    """Every group of `stream` by name, with its lag as `group_lag` counts it ({} without the stream)."""
    try:
        infos: Any = client.xinfo_groups(stream)
    except redis.ResponseError:
        return {}
    return {as_str(g["name"]): group_lag(client, stream, g, limit) for g in infos}
