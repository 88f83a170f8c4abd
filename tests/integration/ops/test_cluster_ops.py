"""`nexusctl` against a 3-primary Redis Cluster (NX_REDIS_URL=redis+cluster://...): the kill switch,
whose flag and event are written per slot there, and `tail` of a stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from nexus_mesh.killswitch import KillSwitch
from nexus_protocol import Envelope, Event, Names, encode
from nexus_testing import REPO_ROOT, read_stream

pytestmark = pytest.mark.cluster
NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")


def ctl(redis_url: str, names: Names, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    env |= {"NX_REDIS_URL": redis_url, "NX_NAMESPACE": names.namespace, "COLUMNS": "80"}
    return subprocess.run(
        [NEXUSCTL, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_kill_switch_and_tail_on_a_cluster(redis_url: str, names: Names, client: redis.Redis) -> None:
    assert redis_url.startswith("redis+cluster://")
    on = ctl(redis_url, names, "killswitch", "on", "--reason", "cluster drill")
    assert on.returncode == 0, on.stdout + on.stderr
    assert KillSwitch(client, names).active()
    assert [e.body.kind for e in read_stream(client, names.events)] == ["killswitch"]
    for i in range(3):
        client.xadd(
            names.stream("out"),
            encode(Envelope.new(Event(kind="t", source="t", message=f"m{i}"), id=f"m{i}")),
        )  # type: ignore[arg-type]
    tail = ctl(redis_url, names, "tail", names.stream("out"), "-n", "2")
    assert tail.returncode == 0, tail.stdout + tail.stderr
    assert [json.loads(line)["body"]["message"] for line in tail.stdout.splitlines()] == ["m1", "m2"]
