"""Stage state: what a handler reads (a view) and what it returns to be written (`Writes`).

A stage handler is a function `(message, context) -> Result(outputs, writes)` with no Redis call
inside it. It reads state through its context (`ctx.hget`, `ctx.hgetall`, `ctx.get`, ...), which
answers from what the processor has loaded, overlaid with the writes of the messages handled before
it in the same batch. A read of something not loaded yet raises `Missing`; the processor loads it
(one round trip for everything the handler asked for at once with `ctx.need`) and calls the handler
again, which is safe because the handler has no effects. Tests build a view from plain dicts
(`StateView.of`), so handlers are unit-tested without Redis.

Owned state and the cache. A stage that owns state names its owner (`state:fills`): every key under
`names.state(owner, ...)` is *owned*, cached in process across batches, and versioned by the key
`names.state(owner, "version")`. The rule for trusting the cache: it holds exactly while the version
in Redis is the one this process last wrote. Every read round trip WATCHes the version and reads it;
a different value (another instance committed, an operator tool wrote, a restart) drops the cache;
every commit writes a new version (a value no other writer uses) inside MULTI/EXEC, which Redis
aborts if anyone wrote the version since the WATCH (then the batch is handled again from freshly
loaded state). A writer outside the stage (an operator command) uses `commit.write_owned`, which
changes the version too.

A handler may be called more than once for one message (after a load, after such a conflict): it
must not change anything outside its Result before its last read. So one instance runs
from memory, several instances stay correct (they reload more), and nothing is ever decided from a
state another writer has changed. Anything outside the owner's keys is read per batch, never cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from nexus_mesh.connection import as_str
from nexus_mesh.publish import Output

ReadKind = Literal["hget", "hash", "get", "older", "newest"]


@dataclass(frozen=True, slots=True)
class Read:
    """One thing a handler wants to read.

    hget: a hash field; hash: a whole hash; get: a string; older: members of a sorted set scored at
    most `arg` (ZRANGEBYSCORE -inf arg LIMIT 0 1000); newest: the last `arg` entries of a stream."""

    kind: ReadKind
    key: str
    arg: str = ""


def hget(key: str, field: str) -> Read:
    return Read("hget", key, field)


def whole(key: str) -> Read:
    return Read("hash", key)


def string(key: str) -> Read:
    return Read("get", key)


class Missing(Exception):
    """The handler read something not loaded yet; the processor loads `reads` and calls it again."""

    def __init__(self, reads: tuple[Read, ...]) -> None:
        self.reads = reads
        super().__init__(f"not loaded: {reads}")


# ---- writes -------------------------------------------------------------------------------------

Op = tuple[str, str, str, bytes]  # (op, key, field or "", value or b"")
_HSET, _HDEL, _SET, _DEL, _ZADD, _ZREM, _PEXPIRE = "H", "D", "S", "X", "Z", "R", "E"


class Writes:
    """State writes a handler returns; the processor commits them with the outputs, atomically."""

    __slots__ = ("ops",)

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def hset(self, key: str, field: str, value: bytes | str) -> Writes:
        self.ops.append((_HSET, key, field, _b(value)))
        return self

    def hdel(self, key: str, *fields: str) -> Writes:
        self.ops += [(_HDEL, key, f, b"") for f in fields]
        return self

    def set(self, key: str, value: bytes | str, px: int = 0) -> Writes:
        """SET key value (with PX `px` ms when given)."""
        self.ops.append((_SET, key, str(px) if px else "", _b(value)))
        return self

    def delete(self, key: str) -> Writes:
        self.ops.append((_DEL, key, "", b""))
        return self

    def zadd(self, key: str, member: str, score: int) -> Writes:
        self.ops.append((_ZADD, key, member, str(score).encode()))
        return self

    def zrem(self, key: str, *members: str) -> Writes:
        self.ops += [(_ZREM, key, m, b"") for m in members]
        return self

    def pexpire(self, key: str, ms: int) -> Writes:
        self.ops.append((_PEXPIRE, key, "", str(ms).encode()))
        return self

    def extend(self, other: Writes) -> Writes:
        self.ops += other.ops
        return self


def _b(v: bytes | str) -> bytes:
    return v if isinstance(v, bytes) else v.encode()


@dataclass(slots=True)
class Result:
    """What a handler (or a tick) returns: outputs to publish and state to write, committed together
    before the input is acknowledged."""

    outputs: list[Output] = field(default_factory=list)
    writes: Writes = field(default_factory=Writes)

    def __iadd__(self, other: Result) -> Result:
        self.outputs += other.outputs
        self.writes.extend(other.writes)
        return self


# ---- what is loaded -----------------------------------------------------------------------------

_ABSENT = None


@dataclass(slots=True)
class Loaded:
    """Values read from Redis. Hash fields map to bytes, or None when known to be absent."""

    hashes: dict[str, dict[str, bytes | None]] = field(default_factory=dict)
    complete: set[str] = field(default_factory=set)  # hashes loaded whole
    strings: dict[str, bytes | None] = field(default_factory=dict)
    lists: dict[Read, Any] = field(default_factory=dict)  # older / newest results

    def clear(self) -> None:
        self.hashes.clear()
        self.complete.clear()
        self.strings.clear()
        self.lists.clear()

    def size(self) -> int:
        return sum(len(h) for h in self.hashes.values()) + len(self.strings)

    def has(self, r: Read) -> bool:
        if r.kind == "hget":
            return r.key in self.complete or r.arg in self.hashes.get(r.key, ())
        if r.kind == "hash":
            return r.key in self.complete
        if r.kind == "get":
            return r.key in self.strings
        return r in self.lists

    def store(self, r: Read, reply: Any) -> None:
        if r.kind == "hget":
            self.hashes.setdefault(r.key, {})[r.arg] = reply
        elif r.kind == "hash":
            self.hashes[r.key] = {as_str(k): v for k, v in (reply or {}).items()}
            self.complete.add(r.key)
        elif r.kind == "get":
            self.strings[r.key] = reply
        elif r.kind == "older":
            self.lists[r] = [as_str(m) for m in reply or ()]
        else:
            self.lists[r] = list(reply or ())

    def apply(self, ops: Iterable[Op]) -> None:
        """Fold committed (or batch) writes in, so later reads see them."""
        for op, key, fld, value in ops:
            if op == _HSET:
                self.hashes.setdefault(key, {})[fld] = value
            elif op == _HDEL:
                self.hashes.setdefault(key, {})[fld] = _ABSENT
            elif op == _SET:
                self.strings[key] = value
            elif op == _DEL:
                self.strings[key] = _ABSENT
                self.hashes[key] = {}
                self.complete.add(key)


class StateView:
    """Reads for a handler: this batch's writes first, then the owner's cache, then per-batch reads."""

    __slots__ = ("batch", "cache", "fresh", "owner_prefix")

    def __init__(self, cache: Loaded, fresh: Loaded, owner_prefix: str | None) -> None:
        self.cache = cache  # owned keys, kept across batches
        self.fresh = fresh  # everything else, for this batch only
        self.batch = Loaded()  # writes of earlier messages of this batch
        self.owner_prefix = owner_prefix

    @classmethod
    def of(
        cls,
        hashes: Mapping[str, Mapping[str, bytes | str]] | None = None,
        strings: Mapping[str, bytes | str] | None = None,
        lists: Mapping[Read, Any] | None = None,
    ) -> StateView:
        """A complete in-memory view (tests): whatever is not given is absent."""
        loaded = _Everything()
        loaded.complete = _All()
        for k, h in (hashes or {}).items():
            loaded.hashes[k] = {f: _b(v) for f, v in h.items()}
        for k, v in (strings or {}).items():
            loaded.strings[k] = _b(v)
        loaded.lists.update(lists or {})
        return cls(Loaded(), loaded, None)

    def owned(self, key: str) -> bool:
        return self.owner_prefix is not None and key.startswith(self.owner_prefix)

    def _source(self, key: str) -> Loaded:
        return self.cache if self.owned(key) else self.fresh

    def need(self, *reads: Read) -> None:
        """Make sure all of `reads` are loaded (one round trip for all of them when they are not)."""
        missing = tuple(r for r in reads if not (self._batch_has(r) or self._source(r.key).has(r)))
        if missing:
            raise Missing(missing)

    def unchanged(self, op: Op) -> bool:
        """Whether `op` would leave owned state as it is: a hash field set to the value it holds, or
        deleted where it is absent. The cache is what Redis holds (see the rule above), so such a
        write need not be sent."""
        kind, key, fld, value = op
        if kind not in (_HSET, _HDEL) or not self.owned(key):
            return False
        for src in (self.batch, self.cache):
            h = src.hashes.get(key)
            if h is not None and fld in h:
                current = h[fld]
                break
            if key in src.complete:
                current = None
                break
        else:
            return False  # not loaded: unknown
        return current == (value if kind == _HSET else None)

    def _batch_has(self, r: Read) -> bool:
        b = self.batch
        if r.kind == "hget":
            return r.key in b.complete or r.arg in b.hashes.get(r.key, ())
        if r.kind == "get":
            return r.key in b.strings
        return False

    def hget(self, key: str, field: str) -> bytes | None:
        h = self.batch.hashes.get(key)
        if h is not None and field in h:
            return h[field]
        if key in self.batch.complete:
            return None
        src = self._source(key)
        h = src.hashes.get(key)
        if h is not None and field in h:
            return h[field]
        if key in src.complete:
            return None
        raise Missing((hget(key, field),))

    def hgetall(self, key: str) -> dict[str, bytes]:
        src = self._source(key)
        if key not in src.complete and key not in self.batch.complete:
            raise Missing((whole(key),))
        merged = {} if key in self.batch.complete else dict(src.hashes.get(key, {}))
        merged.update(self.batch.hashes.get(key, {}))
        return {f: v for f, v in merged.items() if v is not None}

    def get(self, key: str) -> bytes | None:
        if key in self.batch.strings:
            return self.batch.strings[key]
        src = self._source(key)
        if not src.has(string(key)):
            raise Missing((string(key),))
        return src.strings.get(key)

    def older(self, key: str, max_score: int) -> list[str]:
        """Members of the sorted set `key` scored at most `max_score` (at most 1000), read this batch."""
        return [str(m) for m in self._list(Read("older", key, str(max_score)))]

    def newest(self, stream: str, count: int) -> list[Any]:
        """The last `count` entries of `stream`, newest first (XREVRANGE), read this batch."""
        return self._list(Read("newest", stream, str(count)))

    def _list(self, r: Read) -> list[Any]:
        if not self.fresh.has(r):
            raise Missing((r,))
        return list(self.fresh.lists.get(r, ()))


class _Everything(Loaded):
    """A test view's store: complete by definition (whatever is not there is absent)."""

    def has(self, r: Read) -> bool:
        return True


class _All(set[str]):
    def __contains__(self, item: object) -> bool:
        return True
