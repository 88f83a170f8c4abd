"""Start-up shared by every service's `__main__`: settings, logs, Redis, metrics, signals, run.

A bad setting or config file exits with code 2 and one line naming the field; SIGTERM or SIGINT
stops intake, finishes the batch in hand, acknowledges it and exits 0.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Protocol, TypeVar

import redis

from nexus_mesh.adapter.claim import Lease, claim, pool
from nexus_mesh.adapter.settings import AdapterSettings
from nexus_mesh.connection import connect, redacted
from nexus_mesh.embedded import ensure_redis_url
from nexus_mesh.logs import configure_logging
from nexus_mesh.metrics import serve
from nexus_mesh.settings import MeshSettings, load_settings
from nexus_protocol.errors import ConfigError

S = TypeVar("S", bound=MeshSettings)
log = logging.getLogger(__name__)
EXIT_CONFIG = 2
EXIT_LEASE_LOST = 3  # a pooled adapter's venue is another instance's now (adapter.claim)


class Runnable(Protocol):
    def run(self) -> None: ...
    def stop(self) -> None: ...


def run_service(
    settings_cls: type[S], build: Callable[[S, redis.Redis], Runnable], **defaults: object
) -> int:
    """Build the service from settings and a client, run it until stopped; returns the exit code."""
    try:
        settings = load_settings(settings_cls, **defaults)
    except ConfigError as exc:
        print(f"{settings_cls.__name__}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.service, settings.consumer, level=settings.log_level, json=settings.log_json)
    try:
        url, server = ensure_redis_url(settings.redis_url, settings.data_dir)
        client = connect(url, client_name=f"{settings.service}:{settings.consumer}")
        settings = _claim_venue(settings_cls, settings, client, defaults)
        service = build(settings, client)
    except ConfigError as exc:
        print(f"{settings.service}: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    lost = threading.Event()

    def _lost() -> None:
        lost.set()
        service.stop()

    lease = _lease(settings, client, _lost)
    port = serve(settings.metrics_port, settings.metrics_host)
    if port:
        log.info("metrics on %s:%d/metrics", settings.metrics_host, port)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing the batch in hand, then stopping", signal.Signals(signum).name)
        service.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("started (redis %s, namespace %s)", redacted(url), settings.namespace)
    try:
        service.run()
    finally:
        if lease is not None:
            lease.release()
        client.close()
        if server is not None:
            server.stop()
    return EXIT_LEASE_LOST if lost.is_set() else 0


def _claim_venue(settings_cls: type[S], settings: S, client: redis.Redis, defaults: dict[str, object]) -> S:
    """An adapter with NX_VENUE_POOL: its settings for the venue of the pool it claims (it waits for one)."""
    if not isinstance(settings, AdapterSettings) or not settings.venue_pool:
        return settings
    venue = claim(
        client, settings.names, pool(settings.venue_pool), settings.consumer, settings.heartbeat_ttl_ms
    )
    assert venue is not None
    return load_settings(settings_cls, **{**defaults, "venue": venue, "service": f"adapter-{venue}"})


def _lease(settings: MeshSettings, client: redis.Redis, on_lost: Callable[[], None]) -> Lease | None:
    if not isinstance(settings, AdapterSettings) or not settings.venue_pool:
        return None
    ttl = settings.heartbeat_ttl_ms
    return Lease(client, settings.names, settings.venue, settings.consumer, ttl, on_lost).start()
