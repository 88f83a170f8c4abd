"""The partitioned path streams (tests/chaos/test_partitions.py) on the 3-primary Redis Cluster: each
group's streams in a slot of their own, committed per slot with the outbox (decision 0023)."""

from __future__ import annotations

import pytest
from test_partitions import test_partitioned_streams_carry_each_groups_legs_exactly_once_under_kills

pytestmark = pytest.mark.cluster

__all__ = ["test_partitioned_streams_carry_each_groups_legs_exactly_once_under_kills"]
