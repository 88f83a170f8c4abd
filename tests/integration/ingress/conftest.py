from __future__ import annotations

import pytest
import redis

from nexus_protocol import Names
from nexus_testing import Services
from nexus_testing.ingress import RunningIngress, bridge_alive, start_ingress


@pytest.fixture
def ingress(services: Services, client: redis.Redis, names: Names) -> RunningIngress:
    bridge_alive(client, names)
    return start_ingress(services)
