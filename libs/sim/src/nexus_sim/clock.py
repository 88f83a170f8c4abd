"""Injectable time for the simulators.

Everything in `nexus_sim` reads time through a `SimClock`, never `time.time()` directly, so the market and
the matching engine stay synchronous and deterministic: tests drive a `ManualClock` and get the same
reports on every run; a platform simulator serving real clients uses `SystemClock`, and the same latency
settings then mean wall-clock nanoseconds.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

# 2023-11-14T22:13:20Z: a round, recognisable start for manual clocks.
DEFAULT_START_NS = 1_700_000_000_000_000_000


@runtime_checkable
class SimClock(Protocol):
    """A source of the current time in integer nanoseconds since the epoch."""

    def now_ns(self) -> int: ...


class SystemClock:
    """Wall-clock time (`time.time_ns`)."""

    def now_ns(self) -> int:
        return time.time_ns()

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to; time never goes backwards."""

    def __init__(self, start_ns: int = DEFAULT_START_NS) -> None:
        self._now_ns = start_ns

    def now_ns(self) -> int:
        return self._now_ns

    def advance(self, ns: int = 0, *, ms: float = 0, s: float = 0) -> int:
        """Move forward by `ns + ms + s`; returns the new time."""
        delta = ns + round(ms * 1_000_000) + round(s * 1_000_000_000)
        if delta < 0:
            raise ValueError(f"a clock cannot go backwards (delta {delta} ns)")
        self._now_ns += delta
        return self._now_ns

    def set(self, now_ns: int) -> None:
        """Jump to an absolute time, which must not be earlier than the current one."""
        if now_ns < self._now_ns:
            raise ValueError(f"a clock cannot go backwards ({now_ns} < {self._now_ns})")
        self._now_ns = now_ns

    def __repr__(self) -> str:
        return f"ManualClock(now_ns={self._now_ns})"
