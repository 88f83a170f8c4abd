"""Stream and key names: one format, one namespace, and a stream's dedupe keys in the stream's slot."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from nexus_protocol.errors import ConfigError
from nexus_protocol.streams import DEFAULT_NAMESPACE, Names, key

PROPS = settings(max_examples=150, deadline=None)
NAMESPACES = st.from_regex(r"[a-z][a-z0-9_-]{0,31}", fullmatch=True)
PARTS = st.from_regex(r"[A-Za-z0-9_.\-$]{1,12}", fullmatch=True)
TAGS = st.lists(PARTS, min_size=1, max_size=3).map(":".join)


def crc16_xmodem(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def cluster_slot(name: str) -> int:
    """Redis Cluster's HASH_SLOT: CRC16 of the first non-empty {...} tag if there is one, else of the key."""
    raw = name.encode()
    start = raw.find(b"{")
    if start != -1:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return crc16_xmodem(raw) % 16384


def test_slot_function_agrees_with_redis() -> None:
    assert crc16_xmodem(b"123456789") == 0x31C3  # the CRC-16/XMODEM check value
    assert cluster_slot("foo") == 12182  # CLUSTER KEYSLOT foo
    assert cluster_slot("somekey") == 11058
    for name in ("foo", "nx:{orders:sim}", "nx:{orders:sim}:seen:x", "a{}b", "{user1000}.following"):
        assert cluster_slot(name) == key_slot(name.encode())


def test_key_format() -> None:
    assert key("nx", "orders:sim") == "nx:{orders:sim}"
    assert key("nx", "health", "router", "host-1") == "nx:{health}:router:host-1"
    assert key("t1", "state:risk", "counters") == "t1:{state:risk}:counters"


@PROPS
@given(namespace=NAMESPACES, tag=TAGS, rest=st.lists(PARTS, max_size=3))
def test_key_is_namespace_tag_rest_and_hashes_by_its_tag(namespace: str, tag: str, rest: list[str]) -> None:
    name = key(namespace, tag, *rest)
    assert name == ":".join([namespace, f"{{{tag}}}", *rest])
    assert cluster_slot(name) == crc16_xmodem(tag.encode()) % 16384


def test_names() -> None:
    n = Names()
    assert n.namespace == DEFAULT_NAMESPACE == "nx"
    assert n.signals == "nx:{signals}"
    assert n.orders_routed == "nx:{orders:routed}"
    assert n.orders("mt5-global") == "nx:{orders:mt5-global}"
    assert n.fills_raw == "nx:{fills:raw}"
    assert n.fills_normalized == "nx:{fills:normalized}"
    assert n.fills == "nx:{fills}"
    assert n.executions == "nx:{executions}"
    assert n.md_raw("sierra") == "nx:{md:raw:sierra}"
    assert n.md("NQ") == "nx:{md:NQ}"
    assert n.events == "nx:{events}"
    assert n.dlq == "nx:{dlq}"
    assert n.contracts == "nx:{contracts}"
    assert n.contract_history == "nx:{contracts}:history"
    assert n.health("router", "host-1") == "nx:{health}:router:host-1"
    assert n.state("risk", "daily") == "nx:{state:risk}:daily"
    assert n.killswitch == n.control("killswitch") == "nx:{control}:killswitch"
    assert n.stream("orders:sim") == n.orders("sim")


def _every_name(n: Names) -> list[str]:
    return [
        n.signals,
        n.orders_routed,
        n.orders("sim"),
        n.orders("mt5-brazil"),
        n.fills_raw,
        n.fills_normalized,
        n.fills,
        n.executions,
        n.md_raw("sierra"),
        n.md("NQ"),
        n.events,
        n.dlq,
        n.contracts,
        n.contract_history,
        n.health("router", "1"),
        n.state("risk"),
        n.killswitch,
    ]


def test_names_are_distinct_and_inside_the_namespace() -> None:
    n = Names("t1")
    names = _every_name(n)
    assert len(set(names)) == len(names)
    assert all(fnmatch.fnmatchcase(name, n.all_pattern) for name in names)
    assert not any(fnmatch.fnmatchcase(name, Names("t2").all_pattern) for name in names)
    assert fnmatch.fnmatchcase(n.health("router", "host-1"), n.health_pattern())
    assert not fnmatch.fnmatchcase(n.signals, n.health_pattern())


STREAMS = st.sampled_from(["signals", "orders:routed", "fills", "fills:raw", "executions", "events", "dlq"])


@PROPS
@given(
    namespace=NAMESPACES,
    logical=STREAMS | PARTS.map("orders:{}".format) | PARTS.map("md:{}".format),
    message_id=st.text(max_size=40),
)
def test_dedupe_key_shares_the_stream_slot(namespace: str, logical: str, message_id: str) -> None:
    """The idempotent publish script touches the stream and its dedupe key: one slot, whatever the id."""
    stream = Names(namespace).stream(logical)
    dedupe = Names.dedupe(stream, message_id)
    assert dedupe.startswith(stream + ":")
    assert cluster_slot(dedupe) == cluster_slot(stream) == crc16_xmodem(logical.encode()) % 16384
    assert key_slot(dedupe.encode()) == key_slot(stream.encode())


@pytest.mark.parametrize(
    "namespace", ["", "NX", "1nx", "_nx", "n" * 33, "nx\n", "n x", "nx:", "n{x}", "nx*", "é"]
)
def test_invalid_namespace(namespace: str) -> None:
    with pytest.raises(ConfigError, match="namespace"):
        key(namespace, "signals")
    with pytest.raises(ConfigError, match="namespace"):
        Names(namespace)  # refused up front: health_pattern and all_pattern are globs built without key()


@pytest.mark.parametrize(
    ("tag", "rest"),
    [
        ("", ()),
        ("a b", ()),
        ("a{b", ()),
        ("a}b", ()),
        ("orders::sim", ()),
        ("orders:", ()),
        ("sig\n", ()),
        ("signals", ("",)),
        ("signals", ("a:b",)),
        ("signals", ("x*",)),
        ("signals", ("ü",)),
        ("signals", ("a\n",)),
    ],
)
def test_invalid_parts(tag: str, rest: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError, match="key part"):
        key("nx", tag, *rest)


def test_invalid_parts_through_names() -> None:
    with pytest.raises(ConfigError):
        Names().md("NQ H25")
    with pytest.raises(ConfigError):
        Names().health("router", "host/1")
