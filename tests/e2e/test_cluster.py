"""NEXUS's side on the 3-primary Redis Cluster: the seed's scenario 3 (duplicate prevention until the
fill) through the bridge service and the NEXUS client library, whose reader reads its streams one
XREAD per hash slot there. The gateway mesh itself on the cluster, with kills: tests/chaos."""

from __future__ import annotations

import pytest
from test_bridge_scenarios import test_scenario_3_duplicate_prevention_until_the_fill

pytestmark = pytest.mark.cluster

__all__ = ["test_scenario_3_duplicate_prevention_until_the_fill"]
