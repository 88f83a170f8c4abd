"""The baseline: the leanest correct relay with raw redis-py (consumer group, pipelined XADD + XACK).

Run as `python bench/_bare_relay.py URL IN OUT`. It copies fields unchanged: no decode, no
validation, no dedupe, no metrics; what is left is the irreducible Redis work of one hop.
"""

from __future__ import annotations

import contextlib
import sys

import redis


def main(url: str, src: str, dst: str, batch: int = 100) -> None:
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
                pipe.xadd(dst, fields)
                ids.append(entry_id)
        pipe.xack(src, "bare", *ids)
        pipe.execute()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
