"""Fixtures for the bridge against a real redis-server: the service's processor driven in the test
thread (with a clock the test moves), or running on a thread for the client tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from nexus_bridge.config import BridgeSettings
from nexus_bridge.service import Bridge, make_bridge, processor
from nexus_bridge.wire import status_key
from nexus_mesh.processor import StreamProcessor
from nexus_testing import REPO_ROOT, wait_for

CONFIG = REPO_ROOT / "deploy" / "config"


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


class Driven:
    """A bridge and its processor, stepped by the test: `drain()` handles everything readable."""

    def __init__(self, bridge: Bridge, proc: StreamProcessor) -> None:
        self.bridge = bridge
        self.proc = proc
        proc.setup()

    def drain(self) -> int:
        total = idle = 0
        for _ in range(100):
            n = self.proc.run_once()
            total += n
            idle = idle + 1 if n == 0 and not self.proc._pending_mode else 0
            if idle >= 2:
                break
        self.proc.flush_acks()
        return total

    def tick(self) -> None:
        self.proc._next_tick = 0.0
        self.drain()


def bridge_settings(url: str, namespace: str, **overrides: Any) -> BridgeSettings:
    values: dict[str, Any] = {
        "redis_url": url,
        "namespace": namespace,
        "config_dir": CONFIG,
        "block_ms": 20,
        "environment": "single",
        "consumer": "test",
        **overrides,
    }
    return BridgeSettings(**values)


@pytest.fixture
def clock() -> Clock:
    import time

    return Clock(time.time_ns() // 1_000_000)


@pytest.fixture
def driven(redis_url: str, namespace: str, client: redis.Redis, clock: Clock) -> Callable[..., Driven]:
    def make(**overrides: Any) -> Driven:
        overrides.setdefault("bridge_venue_guard", False)
        bridge = make_bridge(bridge_settings(redis_url, namespace, **overrides), client, now_ms=clock)
        return Driven(bridge, processor(bridge))

    return make


@pytest.fixture
def bridge_thread(namespace: str) -> Iterator[Callable[..., StreamProcessor]]:
    """Start the bridge service on a thread (for the client tests); stopped at teardown."""
    started: list[tuple[StreamProcessor, threading.Thread]] = []

    def start(url: str, **overrides: Any) -> StreamProcessor:
        overrides.setdefault("bridge_venue_guard", False)
        overrides.setdefault("bridge_tick_interval_s", 0.1)
        from nexus_mesh.connection import connect

        c = connect(url, socket_timeout_s=5.0)
        proc = processor(make_bridge(bridge_settings(url, namespace, **overrides), c))
        t = threading.Thread(target=proc.run, daemon=True)
        t.start()
        started.append((proc, t))
        wait_for(lambda: c.exists(status_key(proc.names)), what="the bridge's status key")
        return proc

    yield start
    for proc, t in started:
        proc.stop()
        t.join(10)
        proc.client.close()


def config_dir() -> Path:
    return CONFIG
