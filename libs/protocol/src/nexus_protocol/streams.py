"""Every stream and key name the mesh touches, built by one function under one namespace.

`key(namespace, tag, *rest)` gives `{namespace}:{{tag}}:rest...`. The braces are a Redis Cluster hash
tag: keys that one command or script touches together share a tag and so a slot. A stream's dedupe
keys are built from the stream's own name, so the idempotent-publish script (stream + dedupe key)
never spans two slots. Several environments or a replay sandbox share one Redis by namespace.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from nexus_protocol.errors import ConfigError

DEFAULT_NAMESPACE = "nx"
# Matched with fullmatch: `$` would also accept a trailing newline.
_NAMESPACE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_PART = re.compile(r"[A-Za-z0-9_.\-$]+")


@functools.lru_cache(maxsize=65_536)  # names are built on the hot path; each is checked once
def key(namespace: str, tag: str, *rest: str) -> str:
    """The one function that builds names: `nx:{orders:sim}` or `nx:{health}:router:host-1`."""
    _check_namespace(namespace)
    for part in (*tag.split(":"), *rest):
        if not _PART.fullmatch(part):
            raise ConfigError(f"key part {part!r} may only hold letters, digits, '_', '.', '-', '$'")
    tail = "".join(f":{r}" for r in rest)
    return f"{namespace}:{{{tag}}}{tail}"


def _check_namespace(namespace: str) -> None:
    if not _NAMESPACE.fullmatch(namespace):
        raise ConfigError(f"namespace {namespace!r} must be lowercase letters, digits, _ or -, at most 32")


@dataclass(frozen=True, slots=True)
class Names:
    """The mesh's names in one namespace. Logical names (for `nexusctl tail`) map through `stream`."""

    namespace: str = DEFAULT_NAMESPACE

    def __post_init__(self) -> None:
        # The glob patterns below are built without key(); a bad namespace must not reach them.
        _check_namespace(self.namespace)

    def stream(self, logical: str) -> str:
        """`signals`, `orders:sim`, `md:NQ`... to the stream key."""
        return key(self.namespace, logical)

    @property
    def signals(self) -> str:
        return self.stream("signals")

    @property
    def bridge_intake(self) -> str:
        """Where signal sources write (the NEXUS client, the ingress); only the bridge reads it."""
        return self.stream("bridge:intake")

    @property
    def orders_routed(self) -> str:
        return self.stream("orders:routed")

    def orders(self, venue: str) -> str:
        return self.stream(f"orders:{venue}")

    @property
    def fills_raw(self) -> str:
        return self.stream("fills:raw")

    @property
    def fills_normalized(self) -> str:
        return self.stream("fills:normalized")

    @property
    def fills(self) -> str:
        return self.stream("fills")

    @property
    def executions(self) -> str:
        return self.stream("executions")

    def md_raw(self, venue: str) -> str:
        return self.stream(f"md:raw:{venue}")

    def md(self, symbol: str) -> str:
        return self.stream(f"md:{symbol}")

    @property
    def events(self) -> str:
        return self.stream("events")

    @property
    def dlq(self) -> str:
        return self.stream("dlq")

    @property
    def contracts(self) -> str:
        """Hash root -> active contract code."""
        return key(self.namespace, "contracts")

    @property
    def contract_history(self) -> str:
        return key(self.namespace, "contracts", "history")

    def health(self, service: str, instance: str) -> str:
        return key(self.namespace, "health", service, instance)

    def health_pattern(self) -> str:
        return f"{self.namespace}:{{health}}:*"

    @staticmethod
    def dedupe(stream_key: str, message_id: str) -> str:
        """Shares the stream's hash tag, so the publish script stays in one slot."""
        return f"{stream_key}:seen:{message_id}"

    def state(self, owner: str, *rest: str) -> str:
        """A service's own state (risk counters, adapter intents...), one slot per owner."""
        return key(self.namespace, f"state:{owner}", *rest)

    @property
    def killswitch(self) -> str:
        return key(self.namespace, "control", "killswitch")

    def control(self, *rest: str) -> str:
        return key(self.namespace, "control", *rest)

    @property
    def all_pattern(self) -> str:
        return f"{self.namespace}:*"
