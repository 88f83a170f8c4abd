"""A group's lag counted from its last-delivered id, true after Redis restarts from its AOF where
XINFO GROUPS's own counter is not: `nexusctl status` raises no "entries behind" problem for a group
that has read everything (the storm of issue 16 saw lag 3264 on such a group), and counts real lag."""

from __future__ import annotations

import time

import pytest
import redis

from nexus_mesh.embedded import RedisServer
from nexus_mesh.lag import group_lag, groups_lag
from nexus_ops import acl, status
from nexus_protocol import Names
from nexus_testing import wait_for


def add(client: redis.Redis, stream: str, n: int) -> None:
    for i in range(n):
        client.xadd(stream, {"n": i})


def read_all(client: redis.Redis, stream: str, count: int = 1_000) -> None:
    got = client.xreadgroup("g", "c", {stream: ">"}, count=count)
    for _s, entries in got or []:
        for entry_id, _ in entries:
            client.xack(stream, "g", entry_id)


def group_on(server: RedisServer, logical: str) -> tuple[Names, str, redis.Redis]:
    """A stream of the namespace `lagt` with group `g` created from the start, and a client."""
    names = Names("lagt")
    stream = names.stream(logical)
    client = redis.Redis.from_url(server.url)
    client.xgroup_create(stream, "g", id="0", mkstream=True)
    return names, stream, client


def restart(server: RedisServer) -> redis.Redis:
    server.kill()
    server.start()
    return redis.Redis.from_url(server.url)


def xinfo_lag(client: redis.Redis, stream: str) -> object:
    return client.xinfo_groups(stream)[0]["lag"]


def test_a_group_that_read_everything_is_not_behind_after_a_restart(restartable_redis: RedisServer) -> None:
    names, stream, client = group_on(restartable_redis, "orders:sim")
    add(client, stream, 50)
    read_all(client, stream)
    client.xtrim(stream, maxlen=10)
    client.bgrewriteaof()  # the rewritten AOF records the group's entries-read; later reads do not
    wait_for(lambda: client.info("persistence")["aof_rewrite_in_progress"] == 0, what="the AOF rewrite")
    time.sleep(0.2)
    add(client, stream, 30)
    read_all(client, stream)
    assert xinfo_lag(client, stream) == 0
    client = restart(restartable_redis)
    group = client.xinfo_groups(stream)[0]
    assert group["last-delivered-id"] == client.xinfo_stream(stream)["last-generated-id"]
    assert group["pending"] == 0
    assert xinfo_lag(client, stream) == 30  # Redis's counter: stale
    assert group_lag(client, stream, group) == 0  # counted: nothing behind
    found = status.collect(client, names, status.Expected(), max_lag=10)
    assert [g.lag for g in found.groups] == [0]
    assert not any("behind" in p for p in found.problems), found.problems
    client.close()


def test_real_lag_is_counted_after_a_restart_and_capped_at_the_limit(restartable_redis: RedisServer) -> None:
    names, stream, client = group_on(restartable_redis, "fills:raw")
    add(client, stream, 20)
    read_all(client, stream, count=5)
    client = restart(restartable_redis)
    add(client, stream, 10)
    assert groups_lag(client, stream) == {"g": 25}
    assert groups_lag(client, stream, limit=7) == {"g": 7}  # at least 7
    found = status.collect(client, names, status.Expected(), max_lag=20)
    assert found.problems == [f"group g on {stream}: 25 entries behind (limit 20)"]
    read_all(client, stream)
    assert groups_lag(client, stream) == {"g": 0}
    assert groups_lag(client, names.stream("nothing")) == {}
    assert group_lag(client, stream, {"name": "g"}) is None  # no last-delivered id: unknown
    client.close()


def test_a_user_who_only_reads_the_stream_counts_its_lag(redis_server: RedisServer) -> None:
    """`nexusctl status` runs as the ops user, allowed to read the streams, not write them: the count's
    script goes as EVALSHA_RO (an EVALSHA's keys need write access, and Redis denied it)."""
    names, stream, admin = group_on(redis_server, f"lag-ro:{time.time_ns()}")
    add(admin, stream, 12)
    read_all(admin, stream, count=5)
    user = f"ops-{names.namespace}-{time.time_ns()}"
    admin.acl_setuser(
        user, enabled=True, passwords=["+pw"], keys=[f"%R~{stream}"], commands=list(acl.OPS_COMMANDS)
    )
    admin.execute_command("ACL", "LOG", "RESET")
    ops = redis.Redis.from_url(redis_server.url, username=user, password="pw")
    try:
        assert groups_lag(ops, stream) == {"g": 7}
        assert admin.execute_command("ACL", "LOG") == []
    finally:
        ops.close()
        admin.acl_deluser(user)
        admin.close()


@pytest.mark.cluster
def test_lag_is_counted_on_a_cluster(client: redis.RedisCluster, names: Names) -> None:
    """EVALSHA_RO finds its node by its keys (redis-py asks the server which they are)."""
    stream = names.stream("fills:raw")
    client.xgroup_create(stream, "g", id="0", mkstream=True)
    add(client, stream, 12)
    read_all(client, stream, count=5)
    assert groups_lag(client, stream) == {"g": 7}
