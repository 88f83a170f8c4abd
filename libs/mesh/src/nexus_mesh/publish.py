"""Idempotent publish: an output is appended to its stream at most once, however often it is sent.

One Lua script sets the output's dedupe key (`{stream}:seen:{id}`) with NX and appends the entry only
if the key was new. Both keys carry the stream's hash tag, so the script never spans two slots and
runs unchanged on Redis Cluster. A stage publishes its outputs this way and only then acknowledges
its input: a crash in between redelivers the input, the handler derives the same ids, and the
republish is a no-op. Market-data outputs skip the dedupe key and are capped with MAXLEN ~.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis
from redis.client import Pipeline

from nexus_protocol.codec import Envelope, encode
from nexus_protocol.streams import Names

_PUBLISH = """
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  if ARGV[2] ~= '0' then
    return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
  end
  return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
end
return false
"""


@dataclass(frozen=True, slots=True)
class Output:
    """One message for one stream. `maxlen` caps the stream (market data); `idempotent=False` skips
    the dedupe key (market data, where a duplicate tick is harmless and keys would be wasted)."""

    stream: str
    envelope: Envelope[Any]
    maxlen: int = 0
    idempotent: bool = True


class Publisher:
    def __init__(self, client: redis.Redis, *, dedupe_ttl_ms: int) -> None:
        self._client = client
        self._script = client.register_script(_PUBLISH)
        self._ttl = str(dedupe_ttl_ms)

    def queue(self, pipe: Pipeline, out: Output) -> None:
        """Add the publish of `out` to a pipeline (executed by the caller, in order)."""
        fields = encode(out.envelope)
        if out.idempotent:
            args: list[Any] = [self._ttl, str(out.maxlen)]
            for k, v in fields.items():
                args += (k, v)
            self._script(keys=[out.stream, Names.dedupe(out.stream, out.envelope.id)], args=args, client=pipe)
        elif out.maxlen:
            pipe.xadd(out.stream, fields, maxlen=out.maxlen, approximate=True)  # type: ignore[arg-type]
        else:
            pipe.xadd(out.stream, fields)  # type: ignore[arg-type]

    def publish(self, outputs: Iterable[Output]) -> list[str | None]:
        """Publish now; per output the new entry id, or None when it had been published before."""
        pipe = self._client.pipeline(transaction=False)
        for out in outputs:
            self.queue(pipe, out)
        return [r.decode() if isinstance(r, bytes) else None for r in pipe.execute()]

    def publish_one(self, out: Output) -> str | None:
        return self.publish([out])[0]
