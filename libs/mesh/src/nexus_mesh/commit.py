"""Writing a batch: outputs, their dedupe keys and state writes, one script call per hash slot.

Every key one script call touches shares a hash tag (a stream with its `:seen:` dedupe keys; a
stage's state under `state:{owner}`), so no command spans two slots and the same calls run on Redis
Cluster. The processor sends the calls of one batch in one pipeline inside MULTI/EXEC, so they apply
together or not at all, and in the same round trip as nothing else: one round trip per batch.

An idempotent output is published by the `P` op: set its dedupe key with NX, append the entry only if
the key was new. Market data (`idempotent=False`) is a plain XADD with MAXLEN ~ (the lean path).
State writes are ops too: H (HSET), D (HDEL), S (SET, PX), X (DEL), Z (ZADD), R (ZREM), E (PEXPIRE).
V (a guard, first in its call) applies nothing of the call unless the key holds the value ('' for
none): the processor's check of a stage's state version where no WATCH is possible (Redis Cluster).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis
from msgspec import msgpack
from redis.client import Pipeline

from nexus_mesh.scripts import LuaScript, run_pipeline
from nexus_protocol.codec import HEADER_FIELDS, encode
from nexus_protocol.streams import Names

if TYPE_CHECKING:
    from nexus_mesh.publish import Output
    from nexus_mesh.state import Op, Writes

APPLY = LuaScript("""
local ttl, out, i, n = ARGV[1], {}, 2, #ARGV
if ARGV[2] == 'V' then
  if (redis.call('GET', KEYS[tonumber(ARGV[3])]) or '') ~= ARGV[5] then return -1 end
  i = 6
end
while i <= n do
  local op, k = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  if op == 'P' then
    local m = ARGV[i + 3]
    if redis.call('SET', KEYS[tonumber(ARGV[i + 2])], '1', 'NX', 'PX', ttl) then
      -- the arguments spelled out: building a table per entry cost Redis more than the XADD
      if m == '0' then
        out[#out + 1] = redis.call('XADD', k, '*', 'type', ARGV[i + 4], 'v', ARGV[i + 5],
          'id', ARGV[i + 6], 'trace', ARGV[i + 7], 'ts', ARGV[i + 8], 'data', ARGV[i + 9])
      else
        out[#out + 1] = redis.call('XADD', k, 'MAXLEN', '~', m, '*', 'type', ARGV[i + 4],
          'v', ARGV[i + 5], 'id', ARGV[i + 6], 'trace', ARGV[i + 7], 'ts', ARGV[i + 8],
          'data', ARGV[i + 9])
      end
    else
      out[#out + 1] = false
    end
    i = i + 10
  else
    local f, v = ARGV[i + 2], ARGV[i + 3]
    if op == 'H' then redis.call('HSET', k, f, v)
    elseif op == 'D' then redis.call('HDEL', k, f)
    elseif op == 'S' then
      if f == '' then redis.call('SET', k, v) else redis.call('SET', k, v, 'PX', f) end
    elseif op == 'X' then redis.call('DEL', k)
    elseif op == 'Z' then redis.call('ZADD', k, v, f)
    elseif op == 'R' then redis.call('ZREM', k, f)
    elseif op == 'E' then redis.call('PEXPIRE', k, v)
    end
    i = i + 4
  end
end
return out
""")


def tag(key: str) -> str:
    """The hash tag of a key (what Redis Cluster hashes), or the whole key when it has none."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


@dataclass(slots=True)
class _Call:
    """One APPLY call: the keys of one slot, its op arguments, and which outputs its P ops carry."""

    keys: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    args: list[Any] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def key(self, k: str) -> str:
        i = self.index.get(k)
        if i is None:
            self.keys.append(k)
            i = self.index[k] = len(self.keys)
        return str(i)

    def guard(self, key: str, expected: bytes | None) -> None:
        """Apply nothing of this call unless `key` holds `expected` (None: unset)."""
        self.args[:0] = ["V", self.key(key), "", expected or b""]


@dataclass(slots=True)
class Plan:
    calls: list[_Call]
    plain: list[int]  # outputs sent as plain XADD (market data), in order

    @property
    def commands(self) -> int:
        return len(self.calls) + len(self.plain)


def plan(outputs: Sequence[Output], ops: Iterable[Op] = ()) -> Plan:
    calls: dict[str, _Call] = {}
    plain: list[int] = []
    for i, out in enumerate(outputs):
        if not out.idempotent:
            plain.append(i)
            continue
        call = calls.setdefault(tag(out.stream), _Call())
        env = out.envelope
        fields = encode(env)
        call.args += ["P", call.key(out.stream), call.key(Names.dedupe(out.stream, env.id)), str(out.maxlen)]
        call.args += [fields[f] for f in _FIELDS]
        call.outputs.append(i)
    for op, key, fld, value in ops:
        call = calls.setdefault(tag(key), _Call())
        call.args += [op, call.key(key), fld, value]
    return Plan(list(calls.values()), plain)


_FIELDS = (*HEADER_FIELDS, "data")


def queue(pipe: Pipeline, p: Plan, outputs: Sequence[Output], dedupe_ttl_ms: int) -> None:
    """Queue the plan's commands (raw, so replies inside MULTI/EXEC are not post-processed)."""
    ttl = str(dedupe_ttl_ms)
    for i in p.plain:
        out = outputs[i]
        fields = encode(out.envelope)
        flat = [x for kv in fields.items() for x in kv]
        if out.maxlen:
            pipe.execute_command("XADD", out.stream, "MAXLEN", "~", out.maxlen, "*", *flat)  # type: ignore[no-untyped-call]
        else:
            pipe.execute_command("XADD", out.stream, "*", *flat)  # type: ignore[no-untyped-call]
    for call in p.calls:
        APPLY.queue(pipe, call.keys, [ttl, *call.args])


def pack(calls: Sequence[_Call], dedupe_ttl_ms: int) -> bytes:
    """Calls as one value (an outbox entry), to be run later by `run_packed`."""
    return msgpack.encode([[c.keys, [str(dedupe_ttl_ms), *c.args]] for c in calls])


def run_packed(client: redis.Redis, packed: bytes) -> None:
    """Run calls packed by `pack` (idempotent: their outputs carry dedupe keys), one per slot."""
    calls = msgpack.decode(packed)

    def build(pipe: Pipeline) -> None:
        for keys, args in calls:
            APPLY.queue(pipe, keys, args)

    run_pipeline(client, build, [APPLY])


def entry_ids(p: Plan, n_outputs: int, replies: Sequence[Any]) -> list[str | None]:
    """Per output its new entry id, or None when it had been published before (from `queue`'s replies)."""
    result: list[str | None] = [None] * n_outputs
    for i, reply in zip(p.plain, replies, strict=False):
        result[i] = _s(reply)
    for call, reply in zip(p.calls, replies[len(p.plain) :], strict=True):
        for i, r in zip(call.outputs, reply or [], strict=False):
            result[i] = _s(r)
    return result


def _s(v: Any) -> str | None:
    return v.decode() if isinstance(v, bytes) else v if isinstance(v, str) else None


def write_owned(
    client: redis.Redis, version_key: str, writes: Callable[[Callable[[str], bytes | None]], Writes]
) -> None:
    """A write to a stage's owned state from outside the stage (an operator command): `writes(get)`
    reads what it needs with `get` (WATCHed with the version) and returns its writes, committed with
    a new version so that the running stage drops its cache. Retried if the stage wrote meanwhile."""

    def txn(pipe: Pipeline) -> None:
        ops = writes(pipe.get)  # type: ignore[arg-type]
        ops.set(version_key, f"external:{secrets.token_hex(8)}")
        pipe.multi()
        queue(pipe, plan([], ops), [], 0)

    for attempt in (1, 2):
        try:
            client.transaction(txn, version_key)
            return
        except redis.exceptions.NoScriptError:
            if attempt == 2:
                raise
            client.script_load(APPLY.source)


def commit_now(client: redis.Redis, outputs: Sequence[Output], writes: Writes, dedupe_ttl_ms: int) -> None:
    """Outputs and unowned state writes together in one MULTI/EXEC, outside a stage (operator tools)."""
    p = plan(outputs, writes.ops)

    def build(pipe: Pipeline) -> None:
        queue(pipe, p, outputs, dedupe_ttl_ms)

    run_pipeline(client, build, [APPLY], transaction=True)
