"""A platform simulator's container healthcheck: healthy while its port accepts, or while it runs."""

from __future__ import annotations

import socket

from nexus_sim.alive import main


def test_healthy_while_the_port_accepts_and_without_a_port() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert main([str(port)]) == 0
    assert main([str(port)]) == 1  # nothing listens there any more
    assert main([]) == 0
