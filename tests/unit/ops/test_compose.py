"""The compose files as the local supervisor reads them: arguments, labels, settings resolved from the
environment, and every service on one loopback address when they run as local processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_ops.compose import check_loopback, free_loopback_address, load_services, on_loopback
from nexus_protocol.errors import ConfigError

ROOT_FILE = """
services:
  redis: {image: redis, command: ["redis-server"]}
  router:
    command: ["python", "-m", "nexus_gateway.router"]
    environment: {NX_SERVICE: router, NX_REDIS_URL: "redis://redis:6379/0"}
"""
DEV_FILE = """
services:
  sim-sierra:
    command: ["python", "-m", "nexus_sierra.simulator", "--port", "${NX_SIERRA_PORT:-11099}"]
    labels: {nexus.role: platform-simulator}
    environment: {NX_SIM_HOST: 0.0.0.0}
  adapter-sierra:
    command: ["python", "-m", "nexus_sierra"]
    labels: ["team=ops"]
    environment:
      NX_VENUE: sierra
      NX_SIERRA_HOST: ${NX_SIERRA_HOST:-sim-sierra}
  adapter-bookmap:
    command: ["python", "-m", "nexus_bookmap"]
    environment: {NX_VENUE: bookmap, NX_BOOKMAP_HOST: "::"}
  sim-bookmap:
    command: ["python", "-m", "nexus_bookmap.simulator"]
    labels: {nexus.role: platform-simulator}
    environment:
      NX_BOOKMAP_URL: ws://adapter-bookmap:9003/addon
      NX_OTHER_URL: https://example.com/adapter-bookmap
      NX_NOTE: sim-sierra
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "docker-compose.yml").write_text(ROOT_FILE)
    (tmp_path / "deploy" / "compose.dev.yml").write_text(DEV_FILE)
    return tmp_path


def test_arguments_labels_and_settings_are_resolved_from_the_environment(root: Path) -> None:
    services = {s.name: s for s in load_services(root, "dev", {"NX_SIERRA_PORT": "12000"})}
    assert set(services) == {"router", "sim-sierra", "adapter-sierra", "adapter-bookmap", "sim-bookmap"}
    sim, adapter = services["sim-sierra"], services["adapter-sierra"]
    assert (sim.module, sim.args, sim.simulator, sim.heartbeat) == (
        "nexus_sierra.simulator",
        ("--port", "12000"),
        True,
        None,  # a platform: no Redis, no heartbeat
    )
    assert (adapter.simulator, adapter.heartbeat, adapter.labels) == (
        False,
        "adapter-sierra",
        {"team": "ops"},
    )
    assert adapter.environment["NX_SIERRA_HOST"] == "sim-sierra"
    assert services["router"].heartbeat == "router"
    real = {s.name: s for s in load_services(root, "dev", {"NX_SIERRA_HOST": "10.0.0.5"})}
    assert real["adapter-sierra"].environment["NX_SIERRA_HOST"] == "10.0.0.5"


def test_on_loopback_every_service_name_and_wildcard_becomes_the_mesh_address(root: Path) -> None:
    services = {s.name: s for s in on_loopback(load_services(root, "dev", {}), "127.9.9.1")}
    assert services["sim-sierra"].environment["NX_SIM_HOST"] == "127.9.9.1"
    assert services["adapter-sierra"].environment["NX_SIERRA_HOST"] == "127.9.9.1"
    assert services["adapter-bookmap"].environment["NX_BOOKMAP_HOST"] == "127.9.9.1"
    bookmap = services["sim-bookmap"].environment
    assert bookmap["NX_BOOKMAP_URL"] == "ws://127.9.9.1:9003/addon"
    assert bookmap["NX_OTHER_URL"] == "https://example.com/adapter-bookmap"  # not a compose service
    assert bookmap["NX_NOTE"] == "sim-sierra"  # neither a host nor a URL setting
    assert services["router"].environment["NX_REDIS_URL"] == "redis://redis:6379/0"  # the supervisor's
    real = on_loopback(load_services(root, "dev", {"NX_SIERRA_HOST": "10.0.0.5"}), "127.9.9.1")
    assert next(s for s in real if s.name == "adapter-sierra").environment["NX_SIERRA_HOST"] == "10.0.0.5"


def test_a_mesh_gets_a_loopback_address_of_its_own() -> None:
    address = free_loopback_address()
    assert check_loopback(address) == address and address.startswith("127.")
    with pytest.raises(ConfigError, match="loopback"):
        check_loopback("0.0.0.0")
    with pytest.raises(ConfigError, match="loopback"):
        check_loopback("sim-sierra")
