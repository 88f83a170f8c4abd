"""The market-data baseline: XREADGROUP from the raw venue streams, decode each tick, encode it under
its root, XADD it (MAXLEN ~) to nx:md:{SYMBOL} and XACK, pipelined: a normalizer without the mesh.

Run as `python bench/_bare_md.py URL NAMESPACE v0,v1,...`.
"""

from __future__ import annotations

import contextlib
import sys

import redis

from nexus_protocol import Envelope, Names, decode, encode


def main(url: str, ns: str, venues: list[str], batch: int = 100) -> None:
    r = redis.Redis.from_url(url)
    names = Names(ns)
    streams = {names.md_raw(v): ">" for v in venues}
    for s in streams:
        with contextlib.suppress(redis.ResponseError):
            r.xgroup_create(s, "normalizer", id="0", mkstream=True)
    while True:
        reply = r.xreadgroup("normalizer", "bare", streams, count=batch, block=1000)  # type: ignore[arg-type]
        if not reply:
            continue
        pipe = r.pipeline(transaction=False)
        for stream, items in reply:
            ids = []
            for entry_id, fields in items:
                env = decode(fields)
                body = env.body.replace(
                    currency="USD"
                )  # what the normalizer adds; the root is the symbol here
                pipe.xadd(
                    names.md(body.symbol),
                    encode(Envelope(env.id, env.trace, env.ts, body)),  # type: ignore[arg-type]
                    maxlen=100_000,
                    approximate=True,
                )
                ids.append(entry_id)
            pipe.xack(stream, "normalizer", *ids)
        pipe.execute()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3].split(","))
