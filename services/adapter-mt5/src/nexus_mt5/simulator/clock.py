"""A wall clock that tests can move forward: the server's default clock.

A served simulator must follow real time (clients compare MT5 times with their own `datetime.now()`),
yet tests need to jump to the end of a session. `OffsetClock` is `time.time_ns()` plus an offset that
only grows, with the same `advance` as `nexus_sim.ManualClock`, so the control surface can move either.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class AdvancingClock(Protocol):
    def now_ns(self) -> int: ...

    def advance(self, ns: int = 0, *, ms: float = 0, s: float = 0) -> int: ...


class OffsetClock:
    """Wall-clock time shifted forward by whatever `advance` added."""

    def __init__(self, offset_ns: int = 0) -> None:
        if offset_ns < 0:
            raise ValueError("offset_ns must be >= 0")
        self._offset_ns = offset_ns

    def now_ns(self) -> int:
        return time.time_ns() + self._offset_ns

    def advance(self, ns: int = 0, *, ms: float = 0, s: float = 0) -> int:
        delta = ns + round(ms * 1_000_000) + round(s * 1_000_000_000)
        if delta < 0:
            raise ValueError(f"a clock cannot go backwards (delta {delta} ns)")
        self._offset_ns += delta
        return self.now_ns()

    def __repr__(self) -> str:
        return f"OffsetClock(offset_ns={self._offset_ns})"
