"""The Redis connection every service uses: redis-py with the hiredis parser, from a URL.

NX_REDIS_URL names one of three deployments, parsed here and nowhere else (`parse_url`):

- one server: `redis://[user:password@]host:port/db`, `rediss://...` (TLS), `unix:///path.sock`;
- Redis Cluster: `redis+cluster://[user:password@]host:port,host:port,...` (`rediss+cluster://` for
  TLS): any reachable node is enough, the client learns the rest. Every command and script of the
  mesh touches keys of one hash slot; where one batch spans several, `nexus_mesh.processor` commits
  per slot (docs/scaling.md);
- Sentinel: `redis+sentinel://[user:password@]host:port,host:port,.../service_name[/db]`: the
  sentinels' addresses and the name of the primary they watch; the client asks them for the primary
  and again after a failover. The user and password are the data nodes' (the sentinels without).

A cluster client is typed as `redis.Redis` (RedisCluster offers the same commands); what must differ
asks `is_cluster`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, unquote

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

SINGLE_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
_TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """What NX_REDIS_URL names: one server (`url`), a cluster (`nodes`) or a Sentinel set (`nodes`,
    `service`)."""

    kind: Literal["single", "cluster", "sentinel"]
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    options: dict[str, str] = field(default_factory=dict)


def parse_url(url: str) -> RedisTarget:
    """The deployment `url` names, or ValueError saying what is wrong with it (never its password)."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme not in (*SINGLE_SCHEMES, *CLUSTER_SCHEMES, *SENTINEL_SCHEMES):
        raise ValueError(
            "must start with redis://, rediss://, unix://, redis+cluster://, rediss+cluster:// "
            "or redis+sentinel://"
        )
    if scheme in SINGLE_SCHEMES:
        return RedisTarget("single", url)
    credentials, hosts, path_text, query = _split(url)
    username, _, password = credentials.partition(":")
    nodes = tuple(_host_port(h, 26379 if scheme in SENTINEL_SCHEMES else 6379) for h in hosts.split(","))
    options = dict(parse_qsl(query))
    unknown = sorted(set(options) - set(_TLS_OPTIONS))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} (only {', '.join(_TLS_OPTIONS)})")
    path = [p for p in path_text.split("/") if p]
    common: dict[str, Any] = {
        "username": unquote(username) or None,
        "password": unquote(password) or None,
        "tls": scheme.startswith("rediss"),
        "options": options,
    }
    if scheme in CLUSTER_SCHEMES:
        if path:
            raise ValueError("a cluster URL has no path: a cluster has one database")
        return RedisTarget("cluster", url, nodes, **common)
    if not path or len(path) > 2:
        raise ValueError("a Sentinel URL ends with /service_name (the primary's name), then /db if not 0")
    db = path[1] if len(path) == 2 else "0"
    if not db.isdigit():
        raise ValueError(f"database {db!r} is not a number")
    return RedisTarget("sentinel", url, nodes, service=path[0], db=int(db), **common)


def _split(url: str) -> tuple[str, str, str, str]:
    """(credentials, hosts, path, query) of a URL, split by hand: several hosts with an IPv6 one
    (`a:7000,[::1]:7002`) are no netloc `urlsplit` takes (Python's security releases refuse anything
    before a '[')."""
    rest, _, query = url.partition("://")[2].partition("#")[0].partition("?")
    netloc, _, path = rest.partition("/")
    credentials, _, hosts = netloc.rpartition("@")
    return credentials, hosts, path, query


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    host, colon, port = text.rpartition(":") if not text.endswith("]") else (text, "", "")
    if not colon:
        host, port = text, str(default_port)
    host = host.strip("[]")
    if not host:
        raise ValueError(f"node {text!r} has no host")
    if not port.isdigit() or not 0 < int(port) < 65_536:
        raise ValueError(f"node {text!r}: port must be a number from 1 to 65535")
    return host, int(port)


def connect(
    url: str, *, client_name: str | None = None, retries: int = 0, socket_timeout_s: float = 30.0
) -> redis.Redis:
    """A client for `url` (one server, a cluster or a Sentinel set; see the module's docstring).

    No silent retries by default: a stream consumer must *know* a call failed, because a lost
    XREADGROUP reply leaves entries pending that only a re-read of its own pending list recovers.
    Callers whose calls are idempotent (the publish script, reads) may ask for `retries`.
    `socket_timeout_s` must exceed the longest BLOCK used on the connection.
    """
    target = parse_url(url)
    kwargs: dict[str, Any] = {
        "socket_timeout": socket_timeout_s,
        "socket_connect_timeout": 5.0,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=retries),
        "client_name": client_name,
    }
    if target.kind == "single":
        return redis.Redis.from_url(url, health_check_interval=30, **kwargs)
    if target.kind == "cluster":
        # Redirections and a topology refresh after a lost node are the cluster client's own work.
        nodes = [ClusterNode(h, p) for h, p in target.nodes]  # type: ignore[no-untyped-call]
        return cast(redis.Redis, RedisCluster(startup_nodes=nodes, **kwargs, **_auth(target)))
    sentinels = Sentinel(list(target.nodes), sentinel_kwargs=_sentinel_kwargs(target), **_tls(target))  # type: ignore[no-untyped-call]
    client: redis.Redis = sentinels.master_for(  # type: ignore[no-untyped-call]
        target.service, db=target.db, health_check_interval=30, **kwargs, **_auth(target)
    )
    return client


def connect_async(
    url: str, *, client_name: str | None = None, socket_timeout_s: float = 30.0
) -> aioredis.Redis:
    """The asyncio client for `url` (the NEXUS client library's), for the same three deployments."""
    target = parse_url(url)
    kwargs: dict[str, Any] = {
        "socket_timeout": socket_timeout_s,
        "socket_connect_timeout": 5.0,
        "client_name": client_name,
    }
    if target.kind == "single":
        return aioredis.Redis.from_url(url, **kwargs)
    if target.kind == "cluster":
        nodes = [AsyncClusterNode(h, p) for h, p in target.nodes]
        cluster = aioredis.RedisCluster(startup_nodes=nodes, **kwargs, **_auth(target))
        return cast(aioredis.Redis, cluster)
    sentinels = AsyncSentinel(list(target.nodes), sentinel_kwargs=_sentinel_kwargs(target), **_tls(target))  # type: ignore[no-untyped-call]
    client: aioredis.Redis = sentinels.master_for(target.service, db=target.db, **kwargs, **_auth(target))
    return client


def _tls(target: RedisTarget) -> dict[str, Any]:
    return {"ssl": True, **target.options} if target.tls else {}


def _auth(target: RedisTarget) -> dict[str, Any]:
    return {"username": target.username, "password": target.password, **_tls(target)}


def _sentinel_kwargs(target: RedisTarget) -> dict[str, Any]:
    return {"socket_timeout": 5.0, "socket_connect_timeout": 5.0, **_tls(target)}


def is_cluster(client: redis.Redis | aioredis.Redis) -> bool:
    """True for a Redis Cluster client: no MULTI/EXEC or multi-key command across slots."""
    return isinstance(client, (RedisCluster, aioredis.RedisCluster))


# On a cluster, a reader of streams in several slots sends one read per slot at once; each blocks at
# most this long, so an entry on one slot waits no longer than that for the reads of the others.
CLUSTER_BLOCK_MS = 50


def by_slot(streams: dict[str, str]) -> list[dict[str, str]]:
    """Streams (name -> cursor) grouped by hash slot, in the order of their first stream."""
    slots: dict[int, dict[str, str]] = {}
    for stream, cursor in streams.items():
        slots.setdefault(key_slot(stream.encode()), {})[stream] = cursor
    return list(slots.values())


def dedicated_client(client: redis.Redis) -> redis.Redis:
    """A client on the same server with a pool of exactly one connection (single-threaded use), so
    a WATCH holds from one round trip to the next; for Sentinel, one that still follows failovers.
    A cluster client is returned as is: nothing is WATCHed on a cluster (see the processor)."""
    if is_cluster(client):
        return client
    pool = client.connection_pool
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if k != "connection_pool"}
    own: redis.ConnectionPool
    if isinstance(pool, SentinelConnectionPool):
        own = SentinelConnectionPool(  # type: ignore[no-untyped-call]
            pool.service_name, pool.sentinel_manager, max_connections=1, **kwargs
        )
    else:
        own = redis.ConnectionPool(connection_class=pool.connection_class, max_connections=1, **kwargs)
    return redis.Redis(connection_pool=own)


def as_bytes(value: bytes | str) -> bytes:
    """redis-py types replies as bytes | str; this client never decodes, so they are bytes."""
    return value if isinstance(value, bytes) else value.encode()


def as_str(value: object) -> str:
    """A Redis reply (bytes, or str on a decoding client) as text; any other value as its str()."""
    return value.decode() if isinstance(value, bytes) else str(value)


def redacted(url: str) -> str:
    """The URL with its password replaced, for logs: `redis://router:***@redis:6379/0`."""
    credentials = _split(url)[0]
    user, colon, _ = credentials.partition(":")
    if not colon:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{user}:***@{rest[len(credentials) + 1 :]}"  # rest starts with credentials@


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses: links that may go without TLS or a token."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
