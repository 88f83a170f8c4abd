"""ManualClock and SystemClock."""

from __future__ import annotations

import time

import pytest

from nexus_sim import ManualClock, SimClock, SystemClock

pytestmark = pytest.mark.unit


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(start_ns=1_000)
    assert clock.now_ns() == 1_000
    assert clock.advance(5) == 1_005
    assert clock.advance(ms=1) == 1_001_005
    assert clock.advance(s=0.5) == 501_001_005
    clock.set(600_000_000)
    assert clock.now_ns() == 600_000_000


def test_manual_clock_never_goes_backwards() -> None:
    clock = ManualClock(start_ns=1_000)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(999)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_system_clock_is_wall_time_and_both_satisfy_the_protocol() -> None:
    before = time.time_ns()
    now = SystemClock().now_ns()
    assert before <= now <= time.time_ns()
    assert isinstance(SystemClock(), SimClock)
    assert isinstance(ManualClock(), SimClock)
