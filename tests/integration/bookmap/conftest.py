"""A factory fixture for the Bookmap rig (adapter process + simulated Bookmap + the real add-on)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

sys.path.insert(0, str(Path(__file__).parent))  # bookmap_rig, shared with the Bookmap e2e and chaos tests

from bookmap_rig import BookmapRig

from nexus_protocol import Names
from nexus_testing import Services


@pytest.fixture
def bookmap_rig(services: Services, client: redis.Redis, names: Names) -> Iterator[Callable[..., BookmapRig]]:
    rigs: list[BookmapRig] = []

    def make(**kw: Any) -> BookmapRig:
        rig = BookmapRig(services, client, names, **kw)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.stop()
        print(f"----- add-on log -----\n{rig.addon_log()}")  # shown by pytest when the test failed
