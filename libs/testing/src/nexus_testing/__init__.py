"""Test support for NEXUS mesh (never imported by a runtime package): the pytest plugin
(`nexus_testing.plugin`: fixtures) and the helpers tests import from here."""

from nexus_testing.helpers import (
    REPO_ROOT,
    edited_config,
    read_stream,
    secured_redis,
    venue_connected,
    venue_equity,
    venue_heartbeat,
    wait_for,
    xadd,
)
from nexus_testing.processes import ServiceProcess, Services

__all__ = [
    "REPO_ROOT",
    "ServiceProcess",
    "Services",
    "edited_config",
    "read_stream",
    "secured_redis",
    "venue_connected",
    "venue_equity",
    "venue_heartbeat",
    "wait_for",
    "xadd",
]
