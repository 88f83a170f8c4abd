"""Which streams the recorder archives, by logical name (`Names.stream(logical)` gives the key)."""

from __future__ import annotations

from collections.abc import Iterable

from nexus_protocol.partitions import PARTITIONED, partition_name

GROUP = "recorder"  # the recorder's consumer group on every recorded stream
_BEFORE_VENUES = ("signals", "orders:routed")
_AFTER_VENUES = ("fills:raw", "fills:normalized", "fills", "executions", "events", "dlq")


def recorded_streams(venues: Iterable[str], groups: Iterable[str] = ()) -> list[str]:
    """Signals, routed orders, each venue's orders, fills raw / normalized / in USD (with the routes),
    executions, events and dead letters; with `groups` (the registry's symbol groups,
    nexus_protocol.partitions) each partition of a partitioned stream too, under its own name."""
    named = sorted(set(groups))
    out = [*_BEFORE_VENUES, *(f"orders:{v}" for v in sorted(set(venues))), *_AFTER_VENUES]
    return out + [partition_name(base, g) for base in PARTITIONED for g in named]
