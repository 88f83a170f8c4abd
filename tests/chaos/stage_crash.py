"""Crash one stage process at a boundary of its first batch, restart it, and read what it produced.

The inputs are written before the stage starts, so they arrive in one batch. The first process is
SIGKILLed by the processor's own fault point (NX_FAULT_KILL_AT) on batch 1; the second one, under the
same consumer name, re-reads its pending entries first, as after a real crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from nexus_protocol import Envelope, Message
from nexus_testing import Services, read_stream, wait_for, xadd

POINTS = ("after_read", "after_handle", "after_commit")


def pending(client: redis.Redis, stream: str, group: str) -> int:
    try:
        return int(client.xpending(stream, group)["pending"])
    except redis.ResponseError:
        return -1


def crash_and_recover(
    client: redis.Redis,
    services: Services,
    module: str,
    group: str,
    inputs: Sequence[tuple[str, Envelope[Any]]],
    point: str,
    done: Any,
    **env: str,
) -> None:
    """Feed `inputs` ((stream, envelope)), run `module` until it kills itself at `point`, restart it
    and wait until every input is acknowledged and `done()` holds."""
    for stream, e in inputs:
        xadd(client, stream, e)
    first = services.start(module, name=group, NX_FAULT_KILL_AT=point, NX_FAULT_KILL_BATCH="1", **env)
    assert first.proc is not None
    assert first.proc.wait(60) == -9, first.log()
    streams = {s for s, _ in inputs}
    assert sum(pending(client, s, group) for s in streams) > 0  # read, never acknowledged
    services.start(module, name=group, **env)
    wait_for(
        lambda: all(pending(client, s, group) == 0 for s in streams) and done(),
        timeout_s=30,
        what=f"{module} to finish after a crash {point}",
    )


def bodies(client: redis.Redis, stream: str, kind: type[Message]) -> list[Any]:
    return [e.body for e in read_stream(client, stream) if isinstance(e.body, kind)]


def ids(client: redis.Redis, stream: str) -> list[str]:
    return [e.id for e in read_stream(client, stream)]
