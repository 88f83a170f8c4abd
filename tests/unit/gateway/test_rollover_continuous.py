"""Continuous futures: NQ1! is the active contract (the hash's, else the calendar's), NQ2! the next."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nexus_gateway.rollover.continuous import is_continuous, resolve
from nexus_mesh.config_files import load_symbols

REGISTRY = load_symbols(Path(__file__).resolve().parents[3] / "deploy" / "config")
NQ, WDO = REGISTRY.spec("NQ"), REGISTRY.spec("WDO")


def test_front_and_next_by_the_calendar_and_the_hash() -> None:
    before_roll, after_roll = dt.date(2025, 3, 10), dt.date(2025, 3, 14)  # NQH25 rolls on 2025-03-13
    assert resolve("NQ1!", NQ, None, before_roll).code == "NQH25"
    assert resolve("NQ2!", NQ, None, before_roll).code == "NQM25"
    assert resolve("NQ1!", NQ, None, after_roll).code == "NQM25"
    assert resolve("NQ2!", NQ, None, after_roll).code == "NQU25"
    # the hash rolled early (an operator's HSET): the mesh's active contract wins, next follows it
    assert resolve("NQ1!", NQ, "NQM25", before_roll).code == "NQM25"
    assert resolve("NQ2!", NQ, "NQM25", before_roll).code == "NQU25"
    assert resolve("WDO2!", WDO, "WDOJ25", dt.date(2025, 3, 10)).code == "WDOK25"  # monthly


def test_what_is_not_continuous() -> None:
    assert is_continuous("ES1!") and is_continuous("MNQ2!")
    assert not is_continuous("NQH25") and not is_continuous(None) and not is_continuous("NQ3!")
    with pytest.raises(ValueError, match="not a continuous contract"):
        resolve("NQH25", NQ, None, dt.date(2025, 3, 10))
    with pytest.raises(ValueError, match="not a NQ contract"):
        resolve("NQ1!", NQ, "ESM25", dt.date(2025, 3, 10))
