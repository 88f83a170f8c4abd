"""Redis deployments beyond one server, on loopback, from the same redis-server binary as the fixture:
a 3-primary Redis Cluster and a Sentinel-managed primary with a replica.

Each node is a `RedisServer` (its own folder, AOF on, dies with the test process); the URLs are the
ones NX_REDIS_URL takes (`nexus_mesh.connection`).
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from nexus_mesh.embedded import RedisServer, die_with_parent, free_port, terminate

SLOTS = 16_384


def _wait(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


def _port_with_bus() -> int:
    """A free port whose cluster bus port (the port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10_000 < 65_536:
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + 10_000))
                return port
            except OSError:
                continue


class LocalCluster:
    """`primaries` cluster nodes, the slots split evenly, met by hand (CLUSTER ADDSLOTSRANGE, MEET)."""

    def __init__(self, data_dir: Path, primaries: int = 3) -> None:
        cluster = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
        self.nodes = [
            RedisServer(
                data_dir / f"node{i}",
                port=_port_with_bus(),
                extra_args=(*cluster, "--cluster-node-timeout", "2000"),
            )
            for i in range(primaries)
        ]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, timeout_s: float = 30.0) -> LocalCluster:
        for n in self.nodes:
            n.start()
        clients = [redis.Redis(port=n.port) for n in self.nodes]
        share = SLOTS // len(self.nodes)
        for i, c in enumerate(clients):
            last = SLOTS - 1 if i == len(clients) - 1 else (i + 1) * share - 1
            c.cluster("ADDSLOTS", *range(i * share, last + 1))  # not ADDSLOTSRANGE: Redis 6.2 has none
        for c in clients[1:]:
            c.cluster("MEET", "127.0.0.1", self.nodes[0].port)

        def ready() -> bool:
            return all(
                c.cluster("INFO")["cluster_state"] == "ok" and len(c.cluster("NODES")) == len(clients)
                for c in clients
            )

        _wait(ready, timeout_s, "the cluster's state to be ok on every node")
        for c in clients:
            c.close()
        return self

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


class LocalSentinel:
    """A primary, one replica and `sentinels` sentinels watching it as `service` (quorum: a majority).

    Failover is quick (down after `down_after_ms`), for tests that kill the primary."""

    def __init__(
        self, data_dir: Path, service: str = "nx", sentinels: int = 3, down_after_ms: int = 1000
    ) -> None:
        self.data_dir = data_dir
        self.service = service
        self.down_after_ms = down_after_ms
        self.primary = RedisServer(data_dir / "primary")
        self.replica = RedisServer(
            data_dir / "replica", extra_args=("--replicaof", "127.0.0.1", str(self.primary.port))
        )
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{self.service}"

    def start(self, timeout_s: float = 30.0) -> LocalSentinel:
        self.primary.start()
        self.replica.start()
        quorum = len(self.sentinel_ports) // 2 + 1
        for port in self.sentinel_ports:
            folder = self.data_dir / f"sentinel-{port}"
            folder.mkdir(parents=True, exist_ok=True)
            conf = folder / "sentinel.conf"  # the sentinel rewrites it: one file each
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\nlogfile sentinel.log\n"
                f"sentinel monitor {self.service} 127.0.0.1 {self.primary.port} {quorum}\n"
                f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.service} 10000\n"
            )
            self.sentinels.append(
                subprocess.Popen(
                    [self.primary.binary, str(conf), "--sentinel"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    preexec_fn=die_with_parent,  # noqa: PLW1509 - prctl only
                )
            )
        _wait(lambda: self.replica_in_sync() and self._sentinels_see_all(), timeout_s, "the sentinels")
        return self

    def replica_in_sync(self) -> bool:
        info = redis.Redis(port=self.replica.port).info("replication")
        return bool(info.get("master_link_status") == "up")

    def _sentinels_see_all(self) -> bool:
        for port in self.sentinel_ports:
            try:
                s = redis.Redis(port=port, socket_connect_timeout=0.5)
                master: dict[str, Any] = s.sentinel_master(self.service)  # type: ignore[assignment]
                if int(master["num-other-sentinels"]) < len(self.sentinel_ports) - 1:
                    return False
                if int(master["num-slaves"]) < 1:
                    return False
            except (redis.RedisError, KeyError):
                return False
        return True

    def primary_port(self) -> int:
        """The port the sentinels name as the primary now."""
        s = redis.Redis(port=self.sentinel_ports[0])
        addr: tuple[str, int] = s.sentinel_get_master_addr_by_name(self.service)  # type: ignore[assignment]
        _host, port = addr
        return int(port)

    def wait_failover(self, timeout_s: float = 30.0) -> None:
        """Until the sentinels name the replica as the primary and it answers as one."""

        def promoted() -> bool:
            try:
                return self.primary_port() == self.replica.port and (
                    redis.Redis(port=self.replica.port).info("replication")["role"] == "master"
                )
            except redis.RedisError:
                return False

        _wait(promoted, timeout_s, "the sentinels to promote the replica")

    def stop(self) -> None:
        for p in self.sentinels:
            terminate(p, 5.0)
        self.replica.stop()
        self.primary.stop()
