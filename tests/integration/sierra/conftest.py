"""A DTC simulator per test (in this process, on its own loop, over TCP) and clients connected to it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sierra_helpers import Connect, Recorder, client_config

from nexus_sierra.client import DtcClient
from nexus_sierra.simulator import RunningSimulator, SimulatedTradingService


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {}


@pytest.fixture
def sim(sim_options: dict[str, Any]) -> Iterator[RunningSimulator]:
    venue = SimulatedTradingService(**sim_options)
    with RunningSimulator(venue, md_interval_s=0.05) as s:
        yield s


@pytest.fixture
def connect(sim: RunningSimulator) -> Iterator[Connect]:
    """connect(wait=True, **ClientConfig overrides) -> (client, recorder), stopped at teardown."""
    started: list[DtcClient] = []

    def make(*, wait: bool = True, **overrides: Any) -> tuple[DtcClient, Recorder]:
        rec = Recorder()
        c = DtcClient(client_config(sim.port, **overrides), rec)
        started.append(c)
        c.start()
        if wait:
            assert c.wait_ready(5), c.last_error
        return c, rec

    yield make
    for c in started:
        c.stop()
