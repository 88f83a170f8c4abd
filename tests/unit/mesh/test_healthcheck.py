"""The images' healthcheck finds /metrics where the service serves it; a service in a container is
named after the container, also on the host's network (where every container has the host's name)."""

from __future__ import annotations

from nexus_mesh.healthcheck import url
from nexus_mesh.settings import container_id

CID = "625306184e414bf7e206de8f41045973e1dd54b85b7ff128d4cf8dd9365ba285"


def test_the_url_follows_the_services_metrics_settings() -> None:
    assert url({"NX_METRICS_PORT": "9100"}) == "http://127.0.0.1:9100/metrics"
    assert url({"NX_METRICS_PORT": "9100", "NX_METRICS_HOST": "0.0.0.0"}) == "http://127.0.0.1:9100/metrics"
    assert (
        url({"NX_METRICS_PORT": "9100", "NX_METRICS_HOST": "127.77.3.4"}) == "http://127.77.3.4:9100/metrics"
    )
    assert url({"NX_METRICS_PORT": "9100", "NX_METRICS_HOST": "::1"}) == "http://[::1]:9100/metrics"
    assert url({}) is None and url({"NX_METRICS_PORT": "0"}) is None


def test_the_container_id_comes_from_the_mount_of_its_hostname_file() -> None:
    line = (
        f"95 77 254:0 /var/lib/docker/containers/{CID}/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw"
    )
    assert container_id(f"1 0 0:1 / / rw\n{line}\n") == CID
    assert container_id("1 0 0:1 / / rw - ext4 /dev/vda rw\n") is None
