"""The compose files on the host's network: each service its own loopback address, names resolved
to them, listeners bound to them, nothing published."""

from __future__ import annotations

from typing import Any

import pytest

from nexus_ops.hostnet import addresses, host_network

CONFIG: dict[str, Any] = {
    "services": {
        "redis": {
            "image": "redis:7.2-alpine",
            "command": ["redis-server", "/usr/local/etc/redis/redis.conf"],
            "ports": ["127.0.0.1:6379:6379"],
            "healthcheck": {"test": ["CMD", "redis-cli", "ping"], "interval": "5s", "retries": 10},
        },
        "router": {
            "image": "nexus-mesh/gateway:dev",
            "command": ["python", "-m", "nexus_gateway.router"],
            "environment": {"NX_REDIS_URL": "redis://redis:6379/0", "NX_METRICS_PORT": "9100"},
        },
        "adapter-bookmap": {
            "image": "nexus-mesh/adapter-bookmap:dev",
            "command": ["python", "-m", "nexus_bookmap"],
            "ports": ["9003:9003"],
            "environment": ["NX_BOOKMAP_HOST=0.0.0.0", "NX_SIERRA_HOST=sierra-win.example"],
        },
        "prometheus": {
            "image": "prom/prometheus:v2.53.2",
            "command": ["--config.file=/etc/prometheus/prometheus.yml"],
            "extra_hosts": {"windows-host": "127.0.0.1"},
        },
    },
    "volumes": {"redis-data": {}},
}


def test_each_service_gets_its_own_loopback_address_in_name_order() -> None:
    assert addresses(["router", "redis", "fills"], "127.77.3") == {
        "fills": "127.77.3.2",
        "redis": "127.77.3.3",
        "router": "127.77.3.4",
    }
    with pytest.raises(ValueError, match="loopback"):
        addresses(["router"], "10.0.0")
    again = addresses(
        ["router", "redis", "adapter-pool"], "127.77.3", {"redis": "127.77.3.3", "router": "127.77.3.4"}
    )
    assert again == {"adapter-pool": "127.77.3.2", "redis": "127.77.3.3", "router": "127.77.3.4"}


def test_every_service_on_the_host_network_finds_the_others_by_name() -> None:
    out = host_network(CONFIG, "127.77.3")
    ips = addresses(list(CONFIG["services"]), "127.77.3")
    assert out["volumes"] == CONFIG["volumes"]
    for name, svc in out["services"].items():
        assert svc["network_mode"] == "host" and "ports" not in svc, name
        assert {f"{n}:{ip}" for n, ip in ips.items()} <= set(svc["extra_hosts"])


def test_listeners_bind_their_own_address_and_other_settings_stay() -> None:
    out = host_network(CONFIG, "127.77.3", healthcheck={"interval": "2s"})["services"]
    ips = addresses(list(CONFIG["services"]), "127.77.3")
    assert out["router"]["environment"] == {
        "NX_REDIS_URL": "redis://redis:6379/0",
        "NX_METRICS_PORT": "9100",
        "NX_METRICS_HOST": ips["router"],
    }
    assert out["router"]["healthcheck"] == {"interval": "2s"}
    bookmap = out["adapter-bookmap"]["environment"]
    assert bookmap["NX_BOOKMAP_HOST"] == ips["adapter-bookmap"]  # the wildcard: bound to its address
    assert bookmap["NX_SIERRA_HOST"] == "sierra-win.example"  # a peer's address: unchanged
    assert out["redis"]["command"][-2:] == ["--bind", ips["redis"]]
    assert out["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "-h", ips["redis"], "ping"]
    assert out["redis"]["healthcheck"]["retries"] == 10
    assert out["prometheus"]["command"][-1] == f"--web.listen-address={ips['prometheus']}:9090"
    assert "windows-host:127.0.0.1" in out["prometheus"]["extra_hosts"]  # its own entries stay


def test_replicas_share_the_address_so_each_takes_a_free_metrics_port() -> None:
    out = host_network(CONFIG, "127.77.3", healthcheck={"interval": "2s"}, replicated=["router"])["services"]
    assert out["router"]["environment"]["NX_METRICS_PORT"] == "0"
    assert out["router"]["healthcheck"] == {"disable": True}
