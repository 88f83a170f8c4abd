"""Redis ACL users: one per service, allowed only its own keys and the commands the mesh uses.

The rules are code, built from `Names`, so they cannot drift from the key names the services use.
`deploy/redis/users.acl` is this module's *template* rendering (every service user `off`, no
password): reviewable in version control, useless to an attacker. At deploy time `nexusctl acl
render` writes the live file with `on #<sha256>` per user, from `NX_REDIS_PASSWORD_<USER>` variables
or freshly generated passwords, into a folder that is never committed (`deploy/secrets/`).

Redis 7 key permissions: `~p` read and write, `%R~p` read only, `%W~p` write only. A key passed to
EVALSHA needs both, so every stream a service publishes to through the idempotent-publish script
(and the stream's `:seen:` dedupe keys) is `~`; a group read (XREADGROUP, XACK, XAUTOCLAIM) writes
the group, so input streams are `~` too. Read-only: other services' state and control keys.
Commands: one allowlist for every service (consumer, publish script, hashes, transactions); nothing
administrative (`-@dangerous`: no FLUSH*, CONFIG, KEYS, DEBUG, SHUTDOWN, MONITOR, ACL, CLIENT KILL).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nexus_archive.recorded import recorded_streams
from nexus_mesh.config_files import load_symbols
from nexus_mesh.venues import load_venues_file
from nexus_protocol.errors import ConfigError
from nexus_protocol.partitions import Partitions
from nexus_protocol.streams import Names, key

SERVICE_COMMANDS = (
    "-@all", "+@connection", "-@dangerous",
    # the stream processor: group reads, acknowledgements, claims, group creation, retention
    "+xreadgroup", "+xack", "+xgroup|create", "+xautoclaim", "+xpending", "+xinfo|groups", "+xtrim",
    "+xread", "+xrange", "+xrevrange", "+xlen", "+xadd",
    # the idempotent-publish script and the router's counters script, sent by hash; the lag count
    # (read only)
    "+evalsha", "+evalsha_ro", "+script|load",
    # heartbeats, the kill switch, service state
    "+get", "+mget", "+set", "+del", "+exists", "+pexpire",
    "+hget", "+hmget", "+hgetall", "+hexists", "+hlen", "+hset", "+hsetnx", "+hdel", "+hincrbyfloat",
    "+multi", "+exec", "+discard", "+watch", "+unwatch",
    # retention clocks of finished state (nexus_mesh.expiry)
    "+zadd", "+zrangebyscore", "+zrem",
)  # fmt: skip
OPS_COMMANDS = (*SERVICE_COMMANDS, "+scan", "+type", "+pttl", "+xinfo|stream", "+xinfo|consumers")
CLIENT_COMMANDS = (
    "-@all",
    "+@connection",
    "-@dangerous",
    "+xadd",
    "+xread",
    "+xrange",
    "+xrevrange",
    "+get",
    "+scan",
)
EXPORTER_COMMANDS = (
    "-@all",
    "+@connection",
    "-@dangerous",
    "+info",
    "+config|get",
    "+slowlog|get",
    "+slowlog|len",
    "+latency|latest",
)
CORE_SERVICES = ("router", "normalizer", "fx", "rollover", "fills", "recorder")
DEFAULT_SANDBOX_PREFIX = "sbx"


@dataclass(frozen=True, slots=True)
class AclUser:
    name: str
    why: str
    rw: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    commands: tuple[str, ...] = SERVICE_COMMANDS

    def rules(self) -> str:
        keys = [f"~{p}" for p in self.rw] + [f"%R~{p}" for p in self.read] + [f"%W~{p}" for p in self.write]
        return " ".join(["resetchannels", *self.commands, *keys])


def _stream(stream_key: str) -> tuple[str, str]:
    """A stream written through the publish script, and its dedupe keys (same hash tag)."""
    return stream_key, Names.dedupe(stream_key, "*")


def _streams(parts: Partitions, base: str) -> tuple[str, ...]:
    """Every partition of a partitioned stream, each with its dedupe keys."""
    return tuple(k for stream in parts.streams(base) for k in _stream(stream))


def _common(names: Names, service: str) -> tuple[str, ...]:
    """What every service may write: its own heartbeat, events, dead letters."""
    return (key(names.namespace, "health", service) + ":*", *_stream(names.events), *_stream(names.dlq))


def mesh_users(
    names: Names,
    venues: Sequence[str],
    sandbox_prefix: str = DEFAULT_SANDBOX_PREFIX,
    pools: Mapping[str, Sequence[str]] | None = None,
    groups: Iterable[str] = (),
) -> list[AclUser]:
    """Every ACL user of the mesh in one namespace; `venues` gives one adapter user per venue, `pools`
    one user per pooled adapter service (its name -> the venues of its NX_VENUE_POOL), `groups` the
    registry's symbol groups (each partition of a partitioned stream is a key of its own)."""
    n = names
    p = Partitions(n, tuple(sorted(set(groups))))
    ns = n.namespace
    md_all = f"{ns}:{{md:*"  # every market-data stream, raw and normalized (a glob, not a key)
    users = [
        AclUser(
            "router",
            "signals -> route (fills), orders:routed; executions -> risk state",
            rw=(
                n.signals,
                n.executions,
                *_streams(p, "fills"),
                *_streams(p, "orders:routed"),
                n.state("router") + "*",
                *_common(n, "router"),
            ),
            read=(n.control() + ":*", n.state("md", "last")),
        ),
        AclUser(
            "normalizer",
            "orders:routed -> orders:{venue}; fills:raw -> fills:normalized; md:raw -> md",
            rw=(
                *p.streams("orders:routed"),
                *p.streams("fills:raw"),
                *(n.md_raw(v) for v in venues),
                *(k for v in venues for k in _stream(n.orders(v))),
                *_streams(p, "fills:normalized"),
                n.state("md") + "*",  # the last prices, written by the commit script
                *_common(n, "normalizer"),
            ),
            read=(n.contracts,),
            write=(md_all,),
        ),
        AclUser(
            "fx",
            "fills:normalized -> fills (USD), the hold of fills without a rate",
            rw=(
                *p.streams("fills:normalized"),
                *_streams(p, "fills"),
                n.state("fx") + "*",
                *_common(n, "fx"),
            ),
            read=(md_all,),
        ),
        AclUser(
            "rollover",
            "the active contracts hash and its history; position-roll signals",
            rw=(n.contracts + "*", *_stream(n.signals), *_common(n, "rollover")),
            read=(n.state("fills", "positions"),),
        ),
        AclUser(
            "fills",
            "fills -> executions, positions, P&L",
            rw=(*p.streams("fills"), *_stream(n.executions), n.state("fills") + "*", *_common(n, "fills")),
        ),
        AclUser(
            "recorder",
            "every order, fill, execution, event and dead-letter stream -> the archive (its own group)",
            rw=tuple(
                dict.fromkeys(
                    (*(n.stream(s) for s in recorded_streams(venues, p.groups)), *_common(n, "recorder"))
                )
            ),
        ),
        AclUser(
            "nexus-bridge",
            "NEXUS side: bridge:intake -> filters, breakers -> signals; executions -> NEXUS's state",
            rw=(
                n.bridge_intake,
                *_stream(n.signals),
                *_stream(n.executions),
                n.state("bridge") + "*",
                # its status and the kill switch (the daily-loss breaker), written by the commit script
                n.control("bridge"),
                n.killswitch,
                *_common(n, "nexus-bridge"),
            ),
            read=(md_all, n.control() + ":*"),
        ),
        AclUser(
            "ingress",
            "HTTP(S) signals -> bridge:intake; executions -> its view of the signals it took",
            rw=(
                *_stream(n.bridge_intake),
                n.executions,
                n.state("ingress") + "*",
                *_common(n, "ingress"),
            ),
            read=(n.control("bridge"), n.contracts),
            commands=(*SERVICE_COMMANDS, "+time"),  # the rate limit's clock is Redis's, in one script
        ),
        AclUser(
            "nexus-client",
            "the NEXUS AI process (nexus_bridge.client): signals into bridge:intake, executions and md out",
            read=(n.executions, md_all, n.control("bridge")),
            write=(n.bridge_intake,),
            commands=CLIENT_COMMANDS,
        ),
    ]
    users += [adapter_user(n, v, p) for v in venues]
    users += [
        AclUser(
            "ops",
            "nexusctl: reads the namespace, switches the kill switch, runs replay sandboxes",
            rw=(n.control() + ":*", *_stream(n.events), f"{sandbox_prefix}*"),
            read=(n.all_pattern,),
            commands=OPS_COMMANDS,
        ),
        AclUser(
            "exporter", "Prometheus redis_exporter: INFO and latency, no keys", commands=EXPORTER_COMMANDS
        ),
    ]
    taken = {u.name for u in users}
    for name, pooled in (pools or {}).items():
        if name in taken:
            raise ConfigError(f"adapter pool {name!r}: the name of another ACL user")
        unknown = sorted(set(pooled) - set(venues))
        if unknown or not pooled:
            raise ConfigError(
                f"adapter pool {name!r}: not venues of venues.yaml: {', '.join(unknown) or '(none)'}"
            )
        users.append(pool_user(n, name, pooled, p))
    return users


def adapter_user(n: Names, venue: str, p: Partitions | None = None) -> AclUser:
    """An adapter serving one venue (NX_VENUE)."""
    svc = f"adapter-{venue}"
    p = p or Partitions(n)
    return AclUser(
        svc,
        f"orders:{venue} -> the platform -> fills:raw, md:raw:{venue}; venue link heartbeat; "
        "the kill switch's closing orders and the resync's legs -> route (fills); the fill path's "
        "groups (the resync waits until it is idle)",
        rw=(
            n.orders(venue),
            *_streams(p, "fills:raw"),
            *_streams(p, "fills"),
            n.state(svc) + "*",
            *_common(n, svc),
        ),
        read=(
            n.killswitch,
            n.control("sim", venue) + ":*",
            n.state("fills", "venue_positions"),
            n.contracts,
            *p.streams("fills:normalized"),
        ),
        write=(n.md_raw(venue), n.control("venue", venue)),
    )


def pool_user(n: Names, name: str, venues: Sequence[str], p: Partitions | None = None) -> AclUser:
    """A pooled adapter service (NX_VENUE_POOL, decision 0020): each of its instances serves the venue it
    claims under that venue's keys (its lease among them), so the user is allowed every venue's."""
    each = [adapter_user(n, v, p) for v in venues]
    return AclUser(
        name,
        f"an adapter pool of {', '.join(venues)}: each instance as adapter-<venue> of the venue it claims",
        rw=tuple(dict.fromkeys(k for u in each for k in u.rw)),
        read=tuple(dict.fromkeys(k for u in each for k in u.read)),
        write=tuple(dict.fromkeys(k for u in each for k in u.write)),
    )


def pools_option(values: Iterable[str]) -> dict[str, list[str]]:
    """`--pool NAME=venue1,venue2` options as {NAME: [venue1, venue2]}."""
    out: dict[str, list[str]] = {}
    for value in values:
        name, sep, venues = value.partition("=")
        out[name.strip()] = [v.strip() for v in venues.split(",") if v.strip()]
        if not sep or not name.strip() or not out[name.strip()]:
            raise ConfigError(f"--pool {value!r}: expected NAME=venue1,venue2")
    return out


def all_venues(config_dir: Path, environment: str | None = None) -> list[str]:
    """Venue names of one environment of venues.yaml, or of every environment."""
    envs = load_venues_file(config_dir).environments
    chosen = [envs[environment]] if environment else list(envs.values())
    return sorted({v for venues in chosen for v in venues})


def symbol_groups(config_dir: Path) -> list[str]:
    """The registry's symbol groups (symbols.yaml `partitions:`): each partitions the path streams."""
    return sorted(load_symbols(config_dir).partitions)


def env_var(user: str) -> str:
    """`adapter-mt5-global` -> `NX_REDIS_PASSWORD_ADAPTER_MT5_GLOBAL`."""
    return "NX_REDIS_PASSWORD_" + user.upper().replace("-", "_")


def password_hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def render(users: Iterable[AclUser], passwords: Mapping[str, str] | None = None) -> str:
    """The ACL file. A user without a password is `off` (the template has none at all).

    Redis ACL files take `user` lines only (no comments): what each user is for is in `AclUser.why`,
    `nexusctl acl explain` and deploy/redis/README.md."""
    pw = passwords or {}
    lines = ["user default on nopass resetchannels -@all +ping"]  # health checks only
    for u in users:
        state = f"on #{password_hash(pw[u.name])}" if u.name in pw else "off"
        lines.append(f"user {u.name} reset {state} {u.rules()}")
    return "\n".join(lines) + "\n"


def passwords_from_env(
    users: Iterable[AclUser], env: Mapping[str, str] | None = None, *, generate: bool = False
) -> tuple[dict[str, str], list[str]]:
    """Passwords from NX_REDIS_PASSWORD_<USER>; with `generate`, new ones for the missing users.

    Returns the passwords and the users whose password was generated now."""
    env = os.environ if env is None else env
    out: dict[str, str] = {}
    made: list[str] = []
    for u in users:
        given = env.get(env_var(u.name))
        if given:
            out[u.name] = given
        elif generate:
            out[u.name] = secrets.token_urlsafe(32)  # URL-safe: it goes into redis://user:pw@host URLs
            made.append(u.name)
    return out, made


def env_file(passwords: Mapping[str, str]) -> str:
    """`docker compose --env-file` content: one NX_REDIS_PASSWORD_<USER>=... per user."""
    return "".join(f"{env_var(u)}={p}\n" for u, p in sorted(passwords.items()))


def write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read (created 0600 before any byte is written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
