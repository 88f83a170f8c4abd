"""The baselines of bench/scale.py, on one server or a cluster (one read per hash slot there):

- `md`: XREADGROUP the raw venue streams, decode each tick, encode it under its symbol, XADD it (MAXLEN
  ~) to nx:md:{SYMBOL}, XACK: a normalizer's market-data path without the mesh;
- `orders`: XREADGROUP nx:{orders:routed}, decode each order, encode it again for its venue, publish it
  with its dedupe key (one script: SET NX then XADD, as the mesh's), XACK: the order path's hop;
- `orders-3p`: the same over nx:{orders:routed} and its three partitions nx:{orders:routed:p0..p2}.

Run as `python bench/_bare_scale.py md|orders|orders-3p URL NAMESPACE v0,v1,... CONSUMER`.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import redis

from nexus_mesh.connection import CLUSTER_BLOCK_MS, by_slot, connect
from nexus_protocol import Envelope, Names, decode, encode

PUBLISH = """
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', 86400000) then
  return redis.call('XADD', KEYS[1], '*', unpack(ARGV))
end
return false
"""


def main(kind: str, url: str, ns: str, venues: list[str], consumer: str, batch: int = 100) -> None:
    r = connect(url, retries=3)
    names = Names(ns)
    group = "normalizer"
    inputs = [names.md_raw(v) for v in venues] if kind == "md" else [names.orders_routed]
    if kind == "orders-3p":
        inputs += [names.stream(f"orders:routed:p{g}") for g in range(3)]
    for s in inputs:
        with contextlib.suppress(redis.ResponseError):
            r.xgroup_create(s, group, id="0", mkstream=True)
    sha = r.script_load(PUBLISH)
    groups = by_slot({s: ">" for s in inputs})
    waits = [1000] if len(groups) == 1 else [None, CLUSTER_BLOCK_MS]  # several slots: an empty round first
    while True:
        for block in waits:
            pipe = r.pipeline(transaction=False)
            for i, g in enumerate(groups):
                pipe.xreadgroup(group, consumer, g, count=batch, block=block if i == 0 else None)  # type: ignore[arg-type]
            replies: list[Any] = [e for reply in pipe.execute() for e in reply or ()]
            if replies:
                break
        if not replies:
            continue
        pipe = r.pipeline(transaction=False)
        for stream, items in replies:
            ids = []
            for entry_id, fields in items:
                env = decode(fields)
                body = env.body
                if kind == "md":
                    body = body.replace(currency="USD")  # type: ignore[attr-defined]
                    out = encode(Envelope(env.id, env.trace, env.ts, body))
                    pipe.xadd(names.md(body.symbol), out, maxlen=100_000, approximate=True)  # type: ignore[arg-type,attr-defined]
                else:
                    stream_key = names.orders(body.venue)  # type: ignore[attr-defined]
                    flat = [x for kv in encode(Envelope(env.id, env.trace, env.ts, body)).items() for x in kv]
                    keys = [stream_key, Names.dedupe(stream_key, env.id)]
                    pipe.execute_command("EVALSHA", sha, 2, *keys, *flat)  # type: ignore[no-untyped-call]
                ids.append(entry_id)
            pipe.xack(stream, group, *ids)
        pipe.execute()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(","), sys.argv[5])
