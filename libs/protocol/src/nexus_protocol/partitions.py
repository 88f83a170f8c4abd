"""The path streams partitioned by symbol group, so one stream's load can spread over cluster shards.

Every signal's legs and venue reports pass four streams: `orders:routed`, `fills:raw`,
`fills:normalized` and `fills`. The registry (`partitions:` in symbols.yaml) may name symbol groups;
each group then has its own copy of those streams, `nx:{fills:<group>}`, in a hash slot of its own:

    partitions:
      index: [NQ, MNQ, ES, MES, US30]     # nx:{orders:routed:index}, nx:{fills:raw:index}, ...
      brazil: [WIN, WDO]

A root in no group, and every root when no group is named, stays in the default partition, whose
streams keep their plain names (`nx:{fills}`): one partition by default. A message goes to the
partition of the root it carries (an order's and a report's leg root, a route's signal root); every
consumer of a partitioned stream reads all of its partitions, so nothing depends on which partition
a message took. Per leg, every report takes the same partition, so a leg's reports stay in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nexus_protocol.streams import Names
from nexus_protocol.symbols import SymbolRegistry

PARTITIONED = ("orders:routed", "fills:raw", "fills:normalized", "fills")


@dataclass(frozen=True, slots=True)
class Partitions:
    names: Names
    groups: tuple[str, ...] = ()  # the named groups, sorted; the default partition is not among them
    of_root: dict[str, str] = field(default_factory=dict)  # root -> group (roots in no group: absent)
    _keys: dict[tuple[str, str | None], str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, names: Names, registry: SymbolRegistry) -> Partitions:
        of_root = {root: g for g, roots in registry.partitions.items() for root in roots}
        return cls(names, tuple(sorted(registry.partitions)), of_root)

    def logical(self, base: str, root: str | None) -> str:
        """`fills` for NQ -> `fills:index` (or `fills` in the default partition)."""
        group = self.of_root.get(root) if root else None
        return partition_name(base, group) if group else base

    def stream(self, base: str, root: str | None) -> str:
        """The key of `base`'s partition holding `root` (a partitioned base: one of PARTITIONED)."""
        got = self._keys.get((base, root))  # on the hot path: built once per (stream, root)
        if got is None:
            got = self._keys[(base, root)] = self.names.stream(self.logical(base, root))
        return got

    def all_logical(self, base: str) -> list[str]:
        """Every partition of `base`, the default first."""
        return [base, *(partition_name(base, g) for g in self.groups)]

    def streams(self, base: str) -> list[str]:
        return [self.names.stream(s) for s in self.all_logical(base)]


def partition_name(base: str, group: str) -> str:
    """The logical name of `group`'s partition of `base`: `fills`, `index` -> `fills:index`."""
    return f"{base}:{group}"


def partition_base(logical: str) -> str:
    """The partitioned stream a logical name is a partition of (`fills:index` -> `fills`), or itself.
    Longest base first: `fills:raw:index` is a partition of `fills:raw`, not of `fills`."""
    for base in sorted(PARTITIONED, key=len, reverse=True):
        if logical == base:
            return base
        if logical.startswith(base + ":"):
            rest = logical[len(base) + 1 :]
            if ":" not in rest and logical not in PARTITIONED:
                return base
    return logical
