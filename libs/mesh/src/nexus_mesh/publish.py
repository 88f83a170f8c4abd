"""Idempotent publish: an output is appended to its stream at most once, however often it is sent.

One Lua script sets each output's dedupe key (`{stream}:seen:{id}`) with NX and appends the entry
only if the key was new. The dedupe keys carry the stream's hash tag, so a script call never spans two
slots and runs unchanged on Redis Cluster. A stage publishes its outputs this way and only then
acknowledges its input: a crash in between redelivers the input, the handler derives the same ids,
and the republish is a no-op. One script call carries all of a batch's outputs for one stream.
Market-data outputs skip the dedupe key and are capped with MAXLEN ~.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.client import Pipeline

from nexus_mesh.scripts import LuaScript, run_pipeline
from nexus_protocol.codec import HEADER_FIELDS, Envelope, encode
from nexus_protocol.streams import Names

_FIELDS = (*HEADER_FIELDS, "data")
_PUBLISH = """
local ttl, maxlen, out = ARGV[1], ARGV[2], {}
local stream = KEYS[1]
for i = 2, #KEYS do
  local a = 3 + (i - 2) * 6
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ttl) then
    if maxlen == '0' then
      out[i - 1] = redis.call('XADD', stream, '*', 'type', ARGV[a], 'v', ARGV[a + 1], 'id', ARGV[a + 2],
                              'trace', ARGV[a + 3], 'ts', ARGV[a + 4], 'data', ARGV[a + 5])
    else
      out[i - 1] = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'type', ARGV[a], 'v', ARGV[a + 1],
                              'id', ARGV[a + 2], 'trace', ARGV[a + 3], 'ts', ARGV[a + 4], 'data', ARGV[a + 5])
    end
  else
    out[i - 1] = false
  end
end
return out
"""
_CHUNK = 256


@dataclass(frozen=True, slots=True)
class Output:
    """One message for one stream. `maxlen` caps the stream (market data); `idempotent=False` skips
    the dedupe key (market data, where a duplicate tick is harmless and keys would be wasted)."""

    stream: str
    envelope: Envelope[Any]
    maxlen: int = 0
    idempotent: bool = True


class Publisher:
    """Publishes outputs with EVALSHA in one pipeline per call (see `nexus_mesh.scripts`); every
    publish is idempotent, so re-running the pipeline after NOSCRIPT is safe."""

    def __init__(self, client: redis.Redis, *, dedupe_ttl_ms: int) -> None:
        self._client = client
        self._script = LuaScript(_PUBLISH)
        self._ttl = str(dedupe_ttl_ms)

    def _queue(self, pipe: Pipeline, outputs: Sequence[Output]) -> list[list[int]]:
        """Per queued command, the indices of the outputs it carries (order kept per stream)."""
        groups: dict[tuple[str, int, bool], list[int]] = {}
        for i, out in enumerate(outputs):
            groups.setdefault((out.stream, out.maxlen, out.idempotent), []).append(i)
        plan: list[list[int]] = []
        for (stream, maxlen, idempotent), idx in groups.items():
            if not idempotent:
                for i in idx:
                    fields: Any = encode(outputs[i].envelope)
                    if maxlen:
                        pipe.xadd(stream, fields, maxlen=maxlen, approximate=True)
                    else:
                        pipe.xadd(stream, fields)
                    plan.append([i])
                continue
            for start in range(0, len(idx), _CHUNK):
                chunk = idx[start : start + _CHUNK]
                keys = [stream]
                args: list[Any] = [self._ttl, str(maxlen)]
                for i in chunk:
                    env = outputs[i].envelope
                    keys.append(Names.dedupe(stream, env.id))
                    fields = encode(env)
                    args += [fields[f] for f in _FIELDS]
                self._script.queue(pipe, keys, args)
                plan.append(chunk)
        return plan

    def publish(self, outputs: Sequence[Output]) -> list[str | None]:
        """Publish now; per output its new entry id, or None when it had been published before.

        Raises on any error (nothing is then known to be published; a retry is safe).
        """
        if not outputs:
            return []
        plan: list[list[int]] = []

        def build(pipe: Pipeline) -> None:
            plan[:] = self._queue(pipe, outputs)

        replies = run_pipeline(self._client, build, [self._script])
        result: list[str | None] = [None] * len(outputs)
        for idx, reply in zip(plan, replies, strict=True):
            values = reply if isinstance(reply, list) else [reply]
            for i, r in zip(idx, values, strict=True):
                result[i] = r.decode() if isinstance(r, bytes) else None
        return result
