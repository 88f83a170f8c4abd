"""The ingress's Redis state, all under the hash tag `state:ingress` (one slot, one script):

- `req:{signal_id}`: the first request under a signal id (source, key, fingerprint, the envelope as
  it went to the intake, the time), kept as long as the mesh keeps dedupe keys. Written once.
- `rate:{source}`: the source's rate limit, a GCRA "theoretical arrival time" in ms (Redis TIME,
  so every ingress instance shares one clock and one budget).
- `exec:{signal_id}`: the latest execution of a signal that came in here (a final one is never
  replaced by a later partial one), for GET /signals/{id}.

`admit` is one script: a known signal id answers with its record (a replay costs no rate budget);
a new one spends rate budget or is refused with the wait; only then is the record written. The
signal is published to the intake *after* the record, and a replay publishes it again: the publish
is idempotent (the intake's dedupe key), so a crash between the two loses nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import msgpack
import redis

from nexus_mesh.scripts import LuaScript, run_pipeline
from nexus_protocol.codec import Envelope, decode, encode
from nexus_protocol.messages import Message
from nexus_protocol.streams import Names

_ADMIT = """
local old = redis.call('GET', KEYS[1])
if old then return {1, old} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[2]) or now)
if tat < now then tat = now end
local wait = tat - interval * (burst - 1) - now
if wait > 0 then return {2, tostring(wait)} end
redis.call('SET', KEYS[2], tostring(tat + interval), 'PX', math.ceil(tat + interval - now) + 1000)
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {0, ARGV[1]}
"""
_KEEP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '0' and redis.call('HGET', KEYS[2], 'final') == '1' then return 0 end
redis.call('HSET', KEYS[2], 'final', ARGV[1], 'entry', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
"""


class Outcome(enum.Enum):
    NEW = 0
    SEEN = 1
    LIMITED = 2


@dataclass(frozen=True, slots=True)
class Record:
    """The first request under a signal id."""

    source: str
    key: str | None
    fingerprint: str
    received_ns: int
    entry: dict[str, bytes]  # the envelope's stream fields, as they went to the intake

    def pack(self) -> bytes:
        return msgpack.packb(  # type: ignore[no-any-return]
            {"s": self.source, "k": self.key, "f": self.fingerprint, "t": self.received_ns, "e": self.entry}
        )

    @classmethod
    def unpack(cls, raw: bytes) -> Record:
        d = msgpack.unpackb(raw)
        return cls(source=d["s"], key=d["k"], fingerprint=d["f"], received_ns=d["t"], entry=d["e"])

    @property
    def envelope(self) -> Envelope[Message]:
        return decode(self.entry)


@dataclass(frozen=True, slots=True)
class Admission:
    outcome: Outcome
    record: Record | None = None
    retry_after_ms: int = 0


def _as_entry(env: Envelope[Any]) -> dict[str, bytes]:
    return {k: v if isinstance(v, bytes) else v.encode() for k, v in encode(env).items()}


def new_record(source: str, key: str | None, fingerprint: str, env: Envelope[Any]) -> Record:
    return Record(source, key, fingerprint, env.ts, _as_entry(env))


class Store:
    def __init__(self, client: redis.Redis, names: Names, *, ttl_ms: int) -> None:
        self.client = client
        self.names = names
        self.ttl_ms = ttl_ms
        self._admit = LuaScript(_ADMIT)
        self._keep = LuaScript(_KEEP)

    def _run(self, script: LuaScript, keys: list[str], args: list[Any]) -> Any:
        return run_pipeline(self.client, lambda pipe: script.queue(pipe, keys, args), [script])[0]

    def _req(self, signal_id: str) -> str:
        return self.names.state("ingress", "req", signal_id)

    def _exec(self, signal_id: str) -> str:
        return self.names.state("ingress", "exec", signal_id)

    def admit(self, record: Record, signal_id: str, *, rate_per_s: float, burst: int) -> Admission:
        keys = [self._req(signal_id), self.names.state("ingress", "rate", record.source)]
        args = [record.pack(), self.ttl_ms, 1000.0 / rate_per_s, burst]
        outcome, value = self._run(self._admit, keys, args)
        got = Outcome(int(outcome))
        if got is Outcome.LIMITED:
            return Admission(got, retry_after_ms=int(float(value)) + 1)
        return Admission(got, Record.unpack(value))

    def record(self, signal_id: str) -> Record | None:
        raw = self.client.get(self._req(signal_id))
        return Record.unpack(raw) if isinstance(raw, bytes) else None

    def keep_execution(self, env: Envelope[Any], signal_id: str, final: bool) -> bool:
        """Remember the execution of a signal that came in here; False for anyone else's."""
        keys = [self._req(signal_id), self._exec(signal_id)]
        args = ["1" if final else "0", msgpack.packb(_as_entry(env)), self.ttl_ms]
        return bool(self._run(self._keep, keys, args))

    def execution(self, signal_id: str) -> Envelope[Message] | None:
        raw = self.client.hget(self._exec(signal_id), "entry")
        return decode(msgpack.unpackb(raw)) if isinstance(raw, bytes) else None
