"""Lua scripts run with EVALSHA in pipelines, without redis-py's per-pipeline SCRIPT EXISTS.

redis-py's Script objects make every pipeline that carries one ask SCRIPT EXISTS first: one more
round trip per batch on the hot path. Here a script is sent by hash; when Redis answers NOSCRIPT
(restarted or flushed), the script is loaded and the whole pipeline built again and re-run, which
callers make safe by only putting idempotent commands in such pipelines.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.client import Pipeline

from nexus_mesh.connection import is_cluster


class LuaScript:
    """`read_only`: sent as EVALSHA_RO, which Redis lets a user with read-only access to the keys run
    (an EVALSHA's keys need write access too, whatever the script does)."""

    def __init__(self, source: str, read_only: bool = False) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self.command = "EVALSHA_RO" if read_only else "EVALSHA"

    def queue(self, pipe: Pipeline, keys: Sequence[str], args: Sequence[Any]) -> None:
        pipe.execute_command(self.command, self.sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]


def run_pipeline(
    client: redis.Redis,
    build: Callable[[Pipeline], None],
    scripts: Sequence[LuaScript],
    *,
    transaction: bool = False,
) -> list[Any]:
    """Build a pipeline with `build`, execute it; on NOSCRIPT load `scripts` and run it once more.

    On Redis Cluster a transaction cannot span slots: its commands are sent per slot, without one."""
    transaction = transaction and not is_cluster(client)
    for attempt in (1, 2):
        pipe = client.pipeline(transaction=transaction)
        build(pipe)
        try:
            return list(pipe.execute())
        except redis.exceptions.NoScriptError:
            if attempt == 2:
                raise
            for s in scripts:
                client.script_load(s.source)
        except redis.exceptions.ExecAbortError:  # a transaction aborted by NOSCRIPT inside MULTI
            if attempt == 2:
                raise
            for s in scripts:
                client.script_load(s.source)
    raise AssertionError("unreachable")
