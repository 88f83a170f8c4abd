"""Path streams partitioned by symbol group: the registry's `partitions:` section, the names it gives,
and every place that has to know them (recorder, ACL users, nexusctl tail)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nexus_archive.recorded import recorded_streams
from nexus_ops import acl
from nexus_ops.tail import known_streams
from nexus_protocol import Names
from nexus_protocol.errors import ConfigError
from nexus_protocol.partitions import PARTITIONED, Partitions, partition_base
from nexus_protocol.symbols import SymbolRegistry
from nexus_testing import REPO_ROOT

CONFIG = REPO_ROOT / "deploy" / "config"
NAMES = Names("nx")


def registry(partitions: object) -> SymbolRegistry:
    raw = yaml.safe_load((CONFIG / "symbols.yaml").read_text())
    raw["partitions"] = partitions
    return SymbolRegistry.from_yaml(yaml.safe_dump(raw))


def test_one_partition_by_default_so_the_names_are_the_plain_ones() -> None:
    parts = Partitions.of(NAMES, SymbolRegistry.from_yaml((CONFIG / "symbols.yaml").read_text()))
    assert parts.groups == ()
    assert parts.stream("fills", "NQ") == NAMES.fills == "nx:{fills}"
    assert parts.stream("orders:routed", "NQ") == NAMES.orders_routed
    assert parts.streams("fills:raw") == [NAMES.fills_raw]


def test_a_root_of_a_group_takes_its_groups_streams_each_in_a_slot_of_its_own() -> None:
    parts = Partitions.of(NAMES, registry({"index": ["NQ", "ES"], "brazil": ["WIN", "WDO"]}))
    assert parts.groups == ("brazil", "index")
    assert parts.stream("fills:raw", "NQ") == "nx:{fills:raw:index}"
    assert parts.stream("fills", "WIN") == "nx:{fills:brazil}"
    assert parts.stream("orders:routed", "XAUUSD") == "nx:{orders:routed}"  # in no group: the default
    assert parts.stream("fills", None) == parts.stream("fills", "") == "nx:{fills}"
    assert parts.streams("fills:normalized") == [
        "nx:{fills:normalized}",
        "nx:{fills:normalized:brazil}",
        "nx:{fills:normalized:index}",
    ]


@pytest.mark.parametrize(
    ("partitions", "says"),
    [
        ({"index": ["NQ", "NOPE"]}, "partitions.index: unknown root 'NOPE'"),
        ({"index": ["NQ"], "more": ["NQ"]}, "partitions.more: NQ is in group 'index' already"),
        ({"Index": ["NQ"]}, "partitions.Index: a group name is lowercase letters"),
        ({"raw": ["NQ"]}, "partitions.raw: 'raw' is a word the stream names use already"),
    ],
)
def test_a_bad_partition_setting_is_refused_with_its_place(partitions: object, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        registry(partitions)


def test_a_partitions_base_is_found_from_its_logical_name() -> None:
    assert partition_base("fills:index") == "fills"
    assert partition_base("fills:raw:index") == "fills:raw"
    assert partition_base("orders:routed:brazil") == "orders:routed"
    for base in PARTITIONED:
        assert partition_base(base) == base
    assert partition_base("orders:nt8") == "orders:nt8"  # a venue's orders are no partition


def test_the_recorder_the_acl_users_and_tail_know_every_partition(tmp_path: Path) -> None:
    groups = ["index"]
    assert {f"{b}:index" for b in PARTITIONED} <= set(recorded_streams(["nt8"], groups))
    users = {u.name: u for u in acl.mesh_users(NAMES, ["nt8"], groups=groups)}
    assert "nx:{orders:routed:index}" in users["router"].rw
    assert {"nx:{orders:routed:index}", "nx:{fills:raw:index}"} <= set(users["normalizer"].rw)
    assert {"nx:{fills:normalized:index}", "nx:{fills:index}"} <= set(users["fx"].rw)
    assert "nx:{fills:index}" in users["fills"].rw
    assert {"nx:{fills:raw:index}", "nx:{fills:index}"} <= set(users["adapter-nt8"].rw)
    assert "nx:{fills:normalized:index}" in users["adapter-nt8"].read

    cfg = tmp_path / "config"
    cfg.mkdir()
    for f in CONFIG.iterdir():
        (cfg / f.name).write_text(f.read_text())
    raw = yaml.safe_load((cfg / "symbols.yaml").read_text()) | {"partitions": {"index": ["NQ"]}}
    (cfg / "symbols.yaml").write_text(yaml.safe_dump(raw))
    assert acl.symbol_groups(cfg) == ["index"]
    assert {"nx:{fills:index}", "nx:{fills:raw:index}"} <= known_streams(NAMES, cfg)
