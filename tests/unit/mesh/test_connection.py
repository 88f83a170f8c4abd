"""NX_REDIS_URL: one server, a Redis Cluster or a Sentinel set, parsed in one place."""

from __future__ import annotations

import pytest

from nexus_mesh.connection import parse_url, redacted
from nexus_mesh.settings import MeshSettings, load_settings
from nexus_protocol.errors import ConfigError


def test_one_server_urls_are_kept_as_they_are() -> None:
    for url in (
        "redis://127.0.0.1:6379/0",
        "rediss://u:p@host:6380/1?ssl_ca_certs=/ca",
        "unix:///tmp/r.sock",
    ):
        target = parse_url(url)
        assert (target.kind, target.url) == ("single", url)


def test_a_cluster_url_lists_its_nodes_with_the_default_port() -> None:
    target = parse_url("redis+cluster://router:s%40cret@10.0.0.1:7000,10.0.0.2,[::1]:7002")
    assert target.kind == "cluster"
    assert target.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002))
    assert (target.username, target.password, target.tls) == ("router", "s@cret", False)


def test_a_sentinel_url_names_the_sentinels_the_primary_and_the_database() -> None:
    target = parse_url("rediss+sentinel://:pw@s1:26379,s2/mymaster/2?ssl_ca_certs=/ca.pem")
    assert target.kind == "sentinel"
    assert target.nodes == (("s1", 26379), ("s2", 26379))
    assert (target.service, target.db, target.password, target.tls) == ("mymaster", 2, "pw", True)
    assert target.options == {"ssl_ca_certs": "/ca.pem"}


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://x", "must start with redis://"),
        ("redis+cluster://h:1/0", "a cluster URL has no path"),
        ("redis+cluster://h:notaport", "port must be a number"),
        ("redis+cluster://h:70000", "port must be a number"),
        ("redis+cluster://:1", "has no host"),
        ("redis+sentinel://s1:26379", "ends with /service_name"),
        ("redis+sentinel://s1/a/b/c", "ends with /service_name"),
        ("redis+sentinel://s1/mymaster/x", "database 'x' is not a number"),
        ("redis+cluster://h?timeout=3", "unknown option 'timeout'"),
    ],
)
def test_a_bad_url_stops_the_service_naming_the_setting_and_why(url: str, why: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(MeshSettings, redis_url=url)
    text = str(err.value)
    assert text.startswith("invalid settings: NX_REDIS_URL=<redacted>: ") and why in text
    assert "\n" not in text


def test_a_password_is_redacted_from_every_kind_of_url() -> None:
    """Also a cluster's several hosts with an IPv6 one, which urlsplit refuses (Python 3.11.2-6+deb12u6)."""
    assert redacted("redis://router:s3cret@redis:6379/0") == "redis://router:***@redis:6379/0"
    assert redacted("rediss://:pw@h/0") == "rediss://:***@h/0"
    assert redacted("redis://redis:6379") == "redis://redis:6379"
    cluster = "redis+cluster://router:s%40cret@10.0.0.1:7000,[::1]:7002?ssl_ca_certs=/ca.pem"
    assert redacted(cluster) == "redis+cluster://router:***@10.0.0.1:7000,[::1]:7002?ssl_ca_certs=/ca.pem"
