"""The baseline: the leanest correct relay with raw redis-py (consumer group, pipelined XADD + XACK).

Run as `python bench/_bare_relay.py URL IN OUT [FAN [SIDE]]`. It copies fields unchanged: no decode,
no validation, no dedupe, no metrics; what is left is the irreducible Redis work of one hop. With FAN,
each entry goes out FAN times on OUT (the router's legs) and, with SIDE, once more on SIDE (the route,
which skips to the fills hop): the same number of messages per hop as the mesh.
"""

from __future__ import annotations

import contextlib
import sys

import redis


def main(url: str, src: str, dst: str, fan: int = 1, side: str | None = None, batch: int = 100) -> None:
    r = redis.Redis.from_url(url)
    with contextlib.suppress(redis.ResponseError):
        r.xgroup_create(src, "bare", id="0", mkstream=True)
    while True:
        reply = r.xreadgroup("bare", "bare-1", {src: ">"}, count=batch, block=1000)
        if not reply:
            continue
        pipe = r.pipeline(transaction=False)
        ids = []
        for _stream, items in reply:
            for entry_id, fields in items:
                for _ in range(fan):
                    pipe.xadd(dst, fields)
                if side:
                    pipe.xadd(side, fields)
                ids.append(entry_id)
        pipe.xack(src, "bare", *ids)
        pipe.execute()


if __name__ == "__main__":
    a = sys.argv
    main(a[1], a[2], a[3], int(a[4]) if len(a) > 4 else 1, a[5] if len(a) > 5 else None)
