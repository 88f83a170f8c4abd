"""Which streams the recorder archives, by logical name (`Names.stream(logical)` gives the key)."""

from __future__ import annotations

from collections.abc import Iterable

GROUP = "recorder"  # the recorder's consumer group on every recorded stream
_BEFORE_VENUES = ("signals", "orders:routed")
_AFTER_VENUES = ("fills:raw", "fills:normalized", "fills", "executions", "events", "dlq")


def recorded_streams(venues: Iterable[str]) -> list[str]:
    """Signals, routed orders, each venue's orders, fills raw / normalized / in USD (with the routes),
    executions, events and dead letters."""
    return [*_BEFORE_VENUES, *(f"orders:{v}" for v in sorted(set(venues))), *_AFTER_VENUES]
