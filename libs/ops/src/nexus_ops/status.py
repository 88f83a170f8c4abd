"""`nexusctl status`: services and their heartbeats, venue links, consumer groups, dead letters.

Everything comes from Redis: heartbeat keys (`nx:{health}:{service}:{instance}`, alive while their
TTL runs), the adapters' venue-link keys (`nx:{control}:venue:{venue}`), XINFO GROUPS on every
stream of the namespace (each group's lag counted from its last-delivered id, `nexus_mesh.lag`:
Redis's own lag counter is not true after a restart), the dead-letter stream's length and the kill
switch. A heartbeat's age is its TTL minus what is left of it (services write it every third of the
TTL).

Unhealthy (exit 1): an expected service without a heartbeat, an expected venue not connected, a
consumer group on an order or fill stream more than `max_lag` entries behind or holding entries
pending longer than `max_pending_age_s`. Warnings (exit 0 unless `--strict`): dead letters, the kill
switch on, a service not in the compose files.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from nexus_mesh.connection import as_str
from nexus_mesh.lag import group_lag
from nexus_ops.records import entry_ms
from nexus_protocol.codec import unpack
from nexus_protocol.messages import Heartbeat, KillSwitchState
from nexus_protocol.streams import Names

MD_MARK = "{md:"  # market-data streams: fan-out, capped; their lag is not an alarm


@dataclass(frozen=True, slots=True)
class Expected:
    """What should be running: heartbeat service names and venue names."""

    services: tuple[str, ...] = ()
    venues: tuple[str, ...] = ()


@dataclass(slots=True)
class ServiceRow:
    service: str
    instance: str
    age_s: float | None
    uptime_s: float | None
    processed: int
    dead_lettered: int
    detail: dict[str, Any]


@dataclass(slots=True)
class VenueRow:
    venue: str
    connected: bool
    age_s: float | None
    instance: str | None
    expected: bool


@dataclass(slots=True)
class GroupRow:
    stream: str
    group: str
    length: int
    consumers: int
    pending: int
    lag: int | None  # entries after the group's last-delivered id; None: unknown
    oldest_pending_age_s: float | None


@dataclass(slots=True)
class Status:
    namespace: str
    environment: str | None
    services: list[ServiceRow] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    venues: list[VenueRow] = field(default_factory=list)
    groups: list[GroupRow] = field(default_factory=list)
    dead_letters: int = 0
    killswitch: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["healthy"] = self.healthy
        return d


def _age_s(left_ms: int, ttl_ms: int) -> float | None:
    return None if left_ms < 0 else max(0.0, (ttl_ms - left_ms) / 1000)


@dataclass(frozen=True, slots=True)
class Keys:
    """The namespace's heartbeat keys, venue-link keys and streams, found in one SCAN pass."""

    health: tuple[str, ...] = ()
    venues: tuple[str, ...] = ()  # venue names with a link key
    streams: tuple[str, ...] = ()


def discover(client: redis.Redis, names: Names) -> Keys:
    """One pass over the namespace (dedupe keys skipped client-side, names classified by shape; the
    few that could be streams confirmed with TYPE). A dashboard repeats it every few seconds, not per
    frame: SCAN walks the whole keyspace, dedupe keys included."""
    health_prefix = names.health_pattern()[:-1]
    venue_prefix = names.control("venue") + ":"
    health, venues, maybe = [], [], []
    for raw in client.scan_iter(match=names.all_pattern, count=5000):
        k = as_str(raw)
        if ":seen:" in k:
            continue
        if k.startswith(health_prefix):
            health.append(k)
        elif k.startswith(venue_prefix):
            venues.append(k[len(venue_prefix) :])
        elif k.endswith("}") or k == names.contract_history:
            maybe.append(k)
    pipe = client.pipeline(transaction=False)
    for k in maybe:
        pipe.type(k)
    kinds = pipe.execute()
    found = [k for k, kind in zip(maybe, kinds, strict=True) if as_str(kind) == "stream"]
    return Keys(tuple(sorted(health)), tuple(sorted(venues)), tuple(sorted(found)))


def _get_with_ttl(client: redis.Redis, keys: list[str]) -> list[tuple[Any, int]]:
    pipe = client.pipeline(transaction=False)
    for k in keys:
        pipe.get(k)
        pipe.pttl(k)
    out = pipe.execute()
    return [(out[i], int(out[i + 1])) for i in range(0, len(out), 2)]


def heartbeats(client: redis.Redis, names: Names, ttl_ms: int, keys: Keys | None = None) -> list[ServiceRow]:
    keys = keys or discover(client, names)
    rows: list[ServiceRow] = []
    now = time.time_ns()
    for raw, left in _get_with_ttl(client, list(keys.health)):
        hb = unpack(raw) if raw is not None else None
        if not isinstance(hb, Heartbeat):
            continue  # expired since the scan
        uptime = (now - hb.started_ns) / 1e9 if hb.started_ns else None
        rows.append(
            ServiceRow(
                hb.service,
                hb.instance,
                _age_s(left, ttl_ms),
                uptime,
                hb.processed,
                hb.dead_lettered,
                dict(hb.detail),
            )
        )
    return sorted(rows, key=lambda r: (r.service, r.instance))


def venue_links(
    client: redis.Redis, names: Names, expected: tuple[str, ...], ttl_ms: int, keys: Keys | None = None
) -> list[VenueRow]:
    keys = keys or discover(client, names)
    venues = sorted(set(expected) | set(keys.venues))
    rows = []
    for v, (raw, left) in zip(
        venues, _get_with_ttl(client, [names.control("venue", v) for v in venues]), strict=True
    ):
        hb = unpack(raw) if raw is not None else None
        up = isinstance(hb, Heartbeat) and bool(hb.venue_connected)
        age = _age_s(left, ttl_ms) if raw is not None else None
        rows.append(VenueRow(v, up, age, hb.instance if isinstance(hb, Heartbeat) else None, v in expected))
    return rows


def streams(client: redis.Redis, names: Names) -> list[str]:
    return list(discover(client, names).streams)


def groups(client: redis.Redis, names: Names, keys: Keys | None = None) -> list[GroupRow]:
    rows: list[GroupRow] = []
    now_ms = time.time() * 1000
    for stream in (keys or discover(client, names)).streams:
        try:
            infos: Any = client.xinfo_groups(stream)
        except redis.ResponseError:
            continue
        length = int(client.xlen(stream))
        for g in infos:
            pending = int(g.get("pending") or 0)
            oldest = None
            if pending:
                summary: Any = client.xpending(stream, g["name"])
                if summary.get("min"):
                    oldest = max(0.0, (now_ms - entry_ms(summary["min"])) / 1000)
            lag = group_lag(client, stream, g)
            rows.append(
                GroupRow(
                    stream,
                    as_str(g["name"]),
                    length,
                    int(g.get("consumers") or 0),
                    pending,
                    lag,
                    oldest,
                )
            )
    return rows


def collect(
    client: redis.Redis,
    names: Names,
    expected: Expected,
    *,
    environment: str | None = None,
    ttl_ms: int = 10_000,
    max_lag: int = 1_000,
    max_pending_age_s: float = 60.0,
    keys: Keys | None = None,
) -> Status:
    st = Status(namespace=names.namespace, environment=environment)
    keys = keys or discover(client, names)
    st.services = heartbeats(client, names, ttl_ms, keys)
    running = {r.service for r in st.services}
    st.missing = [s for s in expected.services if s not in running]
    st.problems += [f"service {s}: no heartbeat" for s in st.missing]
    extra = sorted(running - set(expected.services)) if expected.services else []
    st.warnings += [f"service {s}: running but not in the compose files of {environment}" for s in extra]
    st.venues = venue_links(client, names, expected.venues, ttl_ms, keys)
    for v in st.venues:
        if v.expected and not v.connected:
            st.problems.append(f"venue {v.venue}: " + ("link down" if v.instance else "no adapter heartbeat"))
    st.groups = groups(client, names, keys)
    for g in st.groups:
        if MD_MARK in g.stream:
            continue
        if g.lag is not None and g.lag > max_lag:
            st.problems.append(f"group {g.group} on {g.stream}: {g.lag} entries behind (limit {max_lag})")
        if g.oldest_pending_age_s is not None and g.oldest_pending_age_s > max_pending_age_s:
            st.problems.append(
                f"group {g.group} on {g.stream}: an entry pending for "
                f"{g.oldest_pending_age_s:.0f} s (limit {max_pending_age_s:g} s)"
            )
    st.dead_letters = int(client.xlen(names.dlq))
    if st.dead_letters:
        st.warnings.append(f"{st.dead_letters} dead letter(s) on {names.dlq}: `nexusctl tail dlq`")
    raw: Any = client.get(names.killswitch)
    ks = unpack(raw) if raw is not None else None
    if isinstance(ks, KillSwitchState):
        st.killswitch = {
            "on": ks.on,
            "reason": ks.reason,
            "by": ks.by,
            "flatten": ks.flatten,
            "ts_ns": ks.ts_ns,
        }
        if ks.on:
            st.warnings.append(f"kill switch ON ({ks.reason or 'no reason'}, by {ks.by or '?'})")
    return st
