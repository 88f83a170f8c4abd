"""Adapters scale by account: the replicas of one adapter service share a pool of venues (NX_VENUE_POOL,
e.g. `mt5-global,mt5-brazil`) and each serves one of them.

An instance claims the first free venue of the pool with a lease (`nx:{state:adapter-<venue>}:claim`,
its consumer name, SET NX with a TTL) before it starts, renews the lease while it runs, and stops if it
ever finds the lease another's (it stalled longer than the TTL: another instance may already serve the
venue). An instance that finds no free venue waits: a hot standby that takes over a venue within the
TTL after its instance dies. `docker compose up --scale <adapter>=N` then runs one account per instance.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from nexus_protocol.streams import Names

log = logging.getLogger(__name__)
# Renew only what is still ours: compare and extend in one step.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def pool(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def lease_key(names: Names, venue: str) -> str:
    return names.state(f"adapter-{venue}", "claim")


def try_claim(client: redis.Redis, names: Names, venues: list[str], owner: str, ttl_ms: int) -> str | None:
    """The venue this owner holds or now claims, or None when every venue is taken."""
    for venue in venues:
        key = lease_key(names, venue)
        if client.set(key, owner, nx=True, px=ttl_ms) or client.get(key) == owner.encode():
            return venue
    return None


def claim(
    client: redis.Redis,
    names: Names,
    venues: list[str],
    owner: str,
    ttl_ms: int,
    stopping: Callable[[], bool] = lambda: False,
) -> str | None:
    """Wait until a venue of the pool is free and claim it; None if told to stop first."""
    waited = False
    while not stopping():
        venue = try_claim(client, names, venues, owner, ttl_ms)
        if venue is not None:
            log.info("serving venue %s of the pool %s", venue, ",".join(venues))
            return venue
        if not waited:
            log.info("every venue of %s is served: standing by", ",".join(venues))
            waited = True
        time.sleep(ttl_ms / 3000)
    return None


class Lease:
    """Keeps a claimed venue's lease alive from a daemon thread; `on_lost` runs once if it is lost."""

    def __init__(
        self,
        client: redis.Redis,
        names: Names,
        venue: str,
        owner: str,
        ttl_ms: int,
        on_lost: Callable[[], None],
    ) -> None:
        self.key = lease_key(names, venue)
        self._client, self._owner, self._ttl_ms, self._on_lost = client, owner, ttl_ms, on_lost
        self._stop = threading.Event()
        self._renew = client.register_script(_RENEW)
        self._thread = threading.Thread(target=self._run, name=f"lease-{venue}", daemon=True)

    def start(self) -> Lease:
        self._thread.start()
        return self

    def renew(self) -> bool:
        """True while the lease is ours; a Redis error counts as ours until the TTL says otherwise."""
        try:
            return bool(self._renew(keys=[self.key], args=[self._owner, self._ttl_ms]))
        except redis.RedisError as exc:
            log.warning("lease %s not renewed: %s", self.key, exc)
            return True

    def release(self) -> None:
        self._stop.set()
        try:
            if self._client.get(self.key) == self._owner.encode():
                self._client.delete(self.key)
        except redis.RedisError:
            pass  # it expires

    def _run(self) -> None:
        while not self._stop.wait(self._ttl_ms / 3000):
            if not self.renew():
                log.critical("lease %s is another instance's now: stopping", self.key)
                self._on_lost()
                return
