"""A platform simulator's container healthcheck follows the simulator's listening address."""

from __future__ import annotations

from nexus_sim.alive import target


def test_the_check_follows_the_simulator_s_listening_address() -> None:
    assert target("11099", {"NX_SIM_HOST": "0.0.0.0"}) == ("127.0.0.1", 11099)
    assert target("18812", {"NX_SIM_HOST": "127.77.0.9"}) == ("127.77.0.9", 18812)
    assert target("9001", {}) == ("127.0.0.1", 9001)
