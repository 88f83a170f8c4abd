"""A pooled adapter service's ACL user (NX_VENUE_POOL, decision 0020): allowed every venue of its pool,
as each of its instances serves the venue it claims under that venue's keys."""

from __future__ import annotations

import pytest

from nexus_ops import acl
from nexus_protocol import Names
from nexus_protocol.errors import ConfigError

NAMES = Names("nx")
VENUES = ["mt5-brazil", "mt5-global", "nt8"]


def test_a_pool_user_holds_the_keys_of_each_venue_of_its_pool_and_no_other() -> None:
    users = {
        u.name: u for u in acl.mesh_users(NAMES, VENUES, pools={"adapter-mt5": ["mt5-global", "mt5-brazil"]})
    }
    pool = users["adapter-mt5"]
    for venue in ("mt5-global", "mt5-brazil"):
        one = users[f"adapter-{venue}"]
        assert set(one.rw) <= set(pool.rw) and set(one.read) <= set(pool.read)
        assert set(one.write) <= set(pool.write)
    assert "nx:{state:adapter-mt5-global}*" in pool.rw  # the lease: nx:{state:adapter-<venue>}:claim
    assert not [k for k in (*pool.rw, *pool.read, *pool.write) if "nt8" in k]
    assert pool.commands == acl.SERVICE_COMMANDS


def test_without_pools_the_users_are_the_templates() -> None:
    assert acl.mesh_users(NAMES, VENUES, pools={}) == acl.mesh_users(NAMES, VENUES)


@pytest.mark.parametrize(
    ("pools", "match"),
    [
        ({"adapter-pool": ["mt5-global", "nope"]}, "not venues of venues.yaml: nope"),
        ({"adapter-pool": []}, "not venues"),
        ({"router": ["nt8"]}, "the name of another ACL user"),
    ],
)
def test_a_pool_of_unknown_venues_or_with_a_taken_name_is_refused(
    pools: dict[str, list[str]], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        acl.mesh_users(NAMES, VENUES, pools=pools)


@pytest.mark.parametrize(
    ("given", "want"),
    [
        (["adapter-mt5=mt5-global, mt5-brazil"], {"adapter-mt5": ["mt5-global", "mt5-brazil"]}),
        ([], {}),
    ],
)
def test_the_pool_option_reads_name_equals_venues(given: list[str], want: dict[str, list[str]]) -> None:
    assert acl.pools_option(given) == want


@pytest.mark.parametrize("bad", ["adapter-mt5", "=nt8", "adapter-mt5="])
def test_a_malformed_pool_option_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="expected NAME=venue1,venue2"):
        acl.pools_option([bad])
