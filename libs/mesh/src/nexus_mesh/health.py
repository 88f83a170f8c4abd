"""Heartbeats: each service instance keeps `nx:{health}:{service}:{instance}` alive with a TTL.

The value is a packed `Heartbeat` (counters, venue link state); the key expiring is the signal that the
instance is gone. `nexusctl status` and the router's venue-connected check read these keys.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from nexus_protocol.codec import pack
from nexus_protocol.messages import Heartbeat
from nexus_protocol.streams import Names


class HeartbeatWriter:
    def __init__(self, client: redis.Redis, names: Names, service: str, instance: str, ttl_ms: int) -> None:
        self._client = client
        self.key = names.health(service, instance)
        self.service = service
        self.instance = instance
        self.ttl_ms = ttl_ms
        self.started_ns = time.time_ns()
        self._next = 0.0

    def due(self) -> bool:
        return time.monotonic() >= self._next

    def beat(
        self,
        *,
        processed: int = 0,
        dead_lettered: int = 0,
        venue: str | None = None,
        venue_connected: bool | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        hb = Heartbeat(
            service=self.service,
            instance=self.instance,
            started_ns=self.started_ns,
            processed=processed,
            dead_lettered=dead_lettered,
            venue=venue,
            venue_connected=venue_connected,
            detail=detail or {},
        )
        self._client.set(self.key, pack(hb), px=self.ttl_ms)
        self._next = time.monotonic() + self.ttl_ms / 3000

    def clear(self) -> None:
        self._client.delete(self.key)
