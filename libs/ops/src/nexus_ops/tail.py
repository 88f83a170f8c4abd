"""`nexusctl tail`: which stream a name means, and each entry as one line a person or a program reads.

Names: a logical name (`signals`, `orders:nt8`, `md:NQ`, `dlq`) or the key as redis-cli shows it
(`nx:{signals}`). A name is known when its stream exists or the mesh writes it (the fixed streams,
`orders:` and `md:raw:` of a venue of venues.yaml, `md:` of a root of symbols.yaml), so an empty dead
letter stream is not an error; anything else raises UnknownStream (a usage error) listing the streams
there are.

Entries: decoded with the codec. One that does not decode is shown field by field with why (text as
text, a msgpack body unpacked, other bytes as base64). A dead letter shows its reason, where it came
from (stream and entry id, group, consumer, deliveries) and the original entry, decoded the same way.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import re
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import msgpack
import msgspec
import redis

from nexus_mesh.config_files import load_symbols
from nexus_mesh.connection import as_str
from nexus_mesh.venues import load_venues_file
from nexus_protocol.codec import decode
from nexus_protocol.errors import ConfigError, DecodeError
from nexus_protocol.messages import DeadLetter
from nexus_protocol.partitions import PARTITIONED, Partitions
from nexus_protocol.streams import Names

_RAW_KEY = re.compile(r"^[a-z][a-z0-9_-]*:\{")
LOGICAL = (
    "signals", "bridge:intake", "orders:routed", "fills:raw", "fills:normalized", "fills", "executions",
    "events", "dlq",
)  # fmt: skip


class UnknownStream(ConfigError):
    """The name is neither a stream here nor one the mesh writes."""


def known_streams(names: Names, config_dir: Path) -> set[str]:
    """Every stream key the mesh writes in this namespace, whether or not it exists yet (the venues' and
    roots' ones as far as the config files here tell)."""
    out = {names.stream(s) for s in LOGICAL}
    with contextlib.suppress(ConfigError):
        for venues in load_venues_file(config_dir).environments.values():
            out |= {k for v in venues for k in (names.orders(v), names.md_raw(v))}
    with contextlib.suppress(ConfigError):
        registry = load_symbols(config_dir)
        out |= {names.md(root) for root in registry.symbols}
        parts = Partitions.of(names, registry)
        out |= {k for base in PARTITIONED for k in parts.streams(base)}
    return out


def existing_streams(client: redis.Redis, names: Names) -> list[str]:
    found = client.scan_iter(match=f"{names.namespace}:{{*", count=1000, _type="STREAM")
    return sorted(as_str(k) for k in found)


def resolve(client: redis.Redis, names: Names, given: str, known: set[str]) -> str:
    """The stream key `given` means, or UnknownStream saying why and what there is."""
    prefix = f"{names.namespace}:"
    if given.startswith(prefix) and "{" not in given:  # nx:signals, as older docs spelled keys
        if as_str(client.type(given)) == "stream":
            return given
        raise UnknownStream(
            f"no stream {given}: keys carry braces, as redis-cli shows them: "
            f"{prefix}{{{given.removeprefix(prefix)}}}"
        )
    if _RAW_KEY.match(given):
        key = given
    else:
        try:
            key = names.stream(given)
        except ConfigError as exc:
            raise UnknownStream(f"{given!r} is not a stream name ({exc})") from None
    kind = as_str(client.type(key))
    if kind == "stream" or (kind == "none" and key in known):
        return key
    if kind != "none":
        raise UnknownStream(f"{key} is a {kind}, not a stream")
    there = existing_streams(client, names)
    listed = ", ".join(there[:40]) + (" ..." if len(there) > 40 else "") if there else "none yet"
    raise UnknownStream(f"no stream {key} (streams here: {listed})")


def render(stream: str, entry_id: bytes | str, fields: Mapping[Any, Any]) -> dict[str, Any]:
    """One entry as a JSON-ready dict: where it is, then the decoded message or why it is not one."""
    return {"entry": as_str(entry_id), "stream": stream, **original(fields)}


def original(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """An entry's fields decoded: header and body, a dead letter's original too; else field by field."""
    try:
        env = decode(fields)
    except DecodeError as exc:
        return {
            "undecodable": str(exc),
            "fields": {as_str(k): _field(as_str(k), v) for k, v in fields.items()},
        }
    body = env.body
    out: dict[str, Any] = {"type": env.type, "id": env.id, "trace": env.trace, "ts": env.ts}
    if isinstance(body, DeadLetter):
        skip = ("fields", "size", "sha256")
        out["body"] = jsonable({k: v for k, v in _plain(body).items() if k not in skip})
        out["body"]["original"] = by_reference(body) if body.sha256 else original(body.fields)
    else:
        out["body"] = jsonable(_plain(body))
    return out


def by_reference(d: DeadLetter) -> dict[str, Any]:
    """A dead letter's original that was too large to copy: where it is, its size and hash."""
    where = f"XRANGE {d.stream} {d.entry_id} {d.entry_id}"
    return {
        "by_reference": f"{d.size:,} bytes, sha256 {d.sha256}: not copied, read it with {where}",
        "fields": {k: _field(k, v) for k, v in d.fields.items()},
    }


def _plain(body: Any) -> dict[str, Any]:
    """A message's fields as plain data, bytes kept as bytes (for `jsonable` to show safely)."""
    out: dict[str, Any] = msgspec.to_builtins(body, builtin_types=(bytes,))
    return out


def _field(name: str, value: Any) -> Any:
    if name == "data" and isinstance(value, bytes):
        try:
            return {"msgpack": jsonable(msgpack.unpackb(value, raw=False, strict_map_key=False))}
        except Exception:  # msgpack raises several unrelated types for garbage
            pass
    return jsonable(value)


def jsonable(value: Any) -> Any:
    """`value` with what JSON cannot hold made safe: bytes that are not printable text as base64,
    enums as their values, non-finite floats as text, keys as strings."""
    if isinstance(value, Mapping):
        return {as_str(k) if isinstance(k, bytes | str) else str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return safe_bytes(value)
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def safe_bytes(data: bytes) -> str | dict[str, Any]:
    """Printable UTF-8 text as itself; anything else as {"base64": ..., "bytes": n}."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\n" for c in text):
        return text
    return {"base64": base64.b64encode(data).decode(), "bytes": len(data)}


def as_json(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def as_text(row: dict[str, Any]) -> str:
    """For a terminal: entry id, type and message id, then the body as JSON on the same line; a dead
    letter as its origin, reason and original entry."""
    head = row.get("entry", "")
    if "undecodable" in row:
        return f"{head} undecodable ({row['undecodable']}) {as_json(row['fields'])}".lstrip()
    body = dict(row["body"])
    if row["type"] == DeadLetter.TYPE and isinstance(body.get("original"), dict):
        keys = ("reason", "stream", "entry_id", "group", "consumer", "deliveries", "original")
        dead = {k: body.pop(k, None) for k in keys}
        original = dead["original"]
        if "by_reference" in original:
            was = f"{original['by_reference']} {as_json(original['fields'])}"
        else:
            was = as_json(original["fields"]) if "undecodable" in original else as_text(original)
        return (
            f"{head} dead_letter from {dead['stream']} {dead['entry_id']} ({dead['group']}/"
            f"{dead['consumer']}, deliveries {dead['deliveries']}): {dead['reason']} | original: {was}"
            + (f" | {as_json(body)}" if body else "")
        ).lstrip()
    return f"{head} {row['type']} {row['id']} {as_json(body)}".lstrip()
