"""`NexusGatewayInterface`: the threaded client NEXUS uses to reach the mesh.

    gw = NexusGatewayInterface("redis://localhost:6379/0", symbols=["NQ"])
    gw.connect()
    gw.set_market_data_callback(lambda d: print(d["symbol"], d["price"]))
    gw.set_execution_callback(lambda e: print(e["signal_id"], e["status"], e["avg_price"]))
    gw.set_status_callback(print)            # "connected" / "disconnected" / "safe_mode"
    gw.start_listening()
    sid = gw.send_signal("NQ", "BUY", confidence=0.82, quantity=1,
                         mqscore={"composite": 0.7, "noise_level": 0.2})

One reader thread does plain XREADs (market data and executions) and only queues what it reads; each
callback kind has its own worker thread (`dispatch.py`), so a slow callback never holds the reader.
A lost connection is retried with backoff and reported to the status callback. While the link is
down - or no bridge service keeps its status key alive - the client is in safe mode: `send_signal`
raises `SafeModeError` instead of sending. The filters and guards are not here: they run in the
bridge service, which reads what `send_signal` puts on the intake stream (docs/nexus-bridge.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from nexus_bridge.dispatch import ThreadDispatcher
from nexus_bridge.errors import BridgeConnectionError, SafeModeError
from nexus_bridge.listen import EXECUTION, MD, ClientOptions, last_id, status_of
from nexus_bridge.wire import CONNECTED, DISCONNECTED, build_signal, intake_stream, status_key
from nexus_mesh.connection import as_bytes
from nexus_mesh.connection import connect as redis_connect
from nexus_protocol.codec import encode, unpack
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import Heartbeat

log = logging.getLogger(__name__)
Callback = Callable[[Any], Any]
_LINK_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class NexusGatewayInterface(ClientOptions):
    """The mesh as NEXUS sees it: ticks in, signals out, executions back. Thread-safe `send_signal`."""

    def _setup(self) -> None:
        self._redis: redis.Redis | None = None
        self._md: ThreadDispatcher | None = None
        self._ex: ThreadDispatcher | None = None
        self._st: ThreadDispatcher | None = None
        self._reader: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._link_up = False
        self._status = DISCONNECTED
        self._status_since = time.monotonic()
        self._checked_at = 0.0
        self.bridge_detail: dict[str, Any] = {}

    # ---- setup --------------------------------------------------------------------------------

    def connect(self, timeout_s: float = 5.0) -> None:
        """Reach Redis (retrying until `timeout_s`), note where executions start, read the status."""
        if self._redis is None:
            self._redis = redis_connect(
                self.url, client_name="nexus-client", socket_timeout_s=self._block_ms / 1000 + 5
            )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._redis.ping()
                break
            except _LINK_ERRORS as exc:
                if time.monotonic() > deadline:
                    raise BridgeConnectionError(f"cannot reach {self.url}: {exc}") from exc
                time.sleep(0.1)
        self._resolve()
        self._check_status(force=True)

    def subscribe(self, *symbols: str) -> None:
        """Read market data of these roots too (`NQ`, `ES`...)."""
        self.core.subscribe(*symbols)

    def set_market_data_callback(self, fn: Callback) -> None:
        self._md = ThreadDispatcher("market-data", fn, maxsize=self._queues[0], drop_oldest=True)

    def set_execution_callback(self, fn: Callback) -> None:
        self._ex = ThreadDispatcher("executions", fn, maxsize=self._queues[1], drop_oldest=False)

    def set_status_callback(self, fn: Callback) -> None:
        self._st = ThreadDispatcher("status", fn, maxsize=1_000, drop_oldest=True)

    def start_listening(self) -> None:
        """Start the reader thread and the callback workers (connects first if needed)."""
        if self._redis is None:
            self.connect()
        for d in (self._md, self._ex, self._st):
            if d is not None:
                d.start()
        if self._reader is None:
            self._stopping.clear()
            self._reader = threading.Thread(target=self._read_loop, name="nexus-reader", daemon=True)
            self._reader.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop reading; executions and status changes already read are still delivered (within the
        timeout), queued market data is dropped; then close the connection."""
        self._stopping.set()
        if self._reader is not None:
            self._reader.join(timeout_s)
            self._reader = None
        if self._md is not None:
            self._md.stop(drain=False, timeout_s=timeout_s)
        for d in (self._ex, self._st):
            if d is not None:
                d.stop(drain=True, timeout_s=timeout_s)
        if self._redis is not None:
            self._redis.close()
            self._redis = None

    def __enter__(self) -> NexusGatewayInterface:
        self.connect()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ---- state --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            "status": self._status,
            "sent": len(self.core.sent),
            "symbols": sorted(self.core.symbols),
            **{d.name: d.stats() for d in (self._md, self._ex, self._st) if d is not None},
        }

    def _set_status(self, link_up: bool, bridge_alive: bool) -> None:
        with self._lock:
            self._link_up = link_up
            new = status_of(link_up, bridge_alive, self.require_bridge)
            if new == self._status:
                return
            self._status, self._status_since = new, time.monotonic()
        log.info("status: %s", new)
        if self._st is not None:
            self._st.put(new)

    def _check_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < self._status_poll_s:
            return
        self._checked_at = now
        assert self._redis is not None
        try:
            raw = self._redis.get(status_key(self.names))
        except _LINK_ERRORS:
            self._set_status(False, False)
            return
        alive = raw is not None
        if raw is not None:
            try:
                hb = unpack(as_bytes(raw))
                self.bridge_detail = dict(hb.detail) if isinstance(hb, Heartbeat) else {}
            except DecodeError:
                alive = False
        self._set_status(True, alive)

    # ---- sending ------------------------------------------------------------------------------

    def send_signal(
        self,
        symbol: str,
        signal: str | float,
        confidence: float,
        quantity: float,
        mqscore: object = None,
        **options: Any,
    ) -> str:
        """Send one signal to the bridge; returns its id (a ULID). Options: order_type, limit_price,
        reference_price, venues, strategy. Raises SignalError for a bad argument, SafeModeError while
        the client is in safe mode (nothing is sent)."""
        options.setdefault("strategy", self.strategy)
        env = build_signal(symbol, signal, confidence, quantity, mqscore, **options)
        if self._redis is None:
            raise SafeModeError(DISCONNECTED, "connect() first")
        if self._reader is None:
            self._check_status()
        if self._status != CONNECTED:
            why = (
                "no connection to the mesh's Redis"
                if self._status == DISCONNECTED
                else "no bridge service is running (its status key is missing)"
            )
            raise SafeModeError(self._status, why, since_s=time.monotonic() - self._status_since)
        sid = env.body.signal_id
        self.core.sent.add(sid)  # before the XADD: its executions may come before it returns
        try:
            self._redis.xadd(intake_stream(self.names), encode(env))  # type: ignore[arg-type]
        except _LINK_ERRORS as exc:
            self._set_status(False, False)
            raise SafeModeError(
                DISCONNECTED,
                f"the connection failed while sending signal {sid} ({exc}): it may "
                "or may not have arrived; its execution, if any, is still delivered",
            ) from exc
        return sid

    # ---- the reader ---------------------------------------------------------------------------

    def _resolve(self) -> None:
        """Look up where each new stream starts (its end now)."""
        streams = self.core.unresolved()
        if not streams:
            return
        assert self._redis is not None
        pipe = self._redis.pipeline(transaction=False)
        for s in streams:
            pipe.xrevrange(s, "+", "-", count=1)
        for s, reply in zip(streams, pipe.execute(), strict=True):
            self.core.resolved(s, last_id(reply))

    def _read_loop(self) -> None:
        backoff = 0.1
        next_discovery = 0.0
        while not self._stopping.is_set():
            try:
                if not self._link_up:
                    self._check_status(force=True)
                    if not self._link_up:
                        raise redis.ConnectionError("still unreachable")
                    self.core.reconnected()
                    backoff = 0.1
                if self._discover and self._md is not None and time.monotonic() >= next_discovery:
                    next_discovery = time.monotonic() + self._discover_s
                    self._scan_md()
                self._resolve()
                self._check_status()
                self._read_once()
            except _LINK_ERRORS as exc:
                if self._link_up:
                    log.warning("lost the connection to %s (%s): retrying with backoff", self.url, exc)
                self._set_status(False, False)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)

    def _scan_md(self) -> None:
        assert self._redis is not None
        self.core.discovered(list(self._redis.scan_iter(match=f"{self.names.namespace}:{{md:*", count=1000)))

    def _read_once(self) -> None:
        assert self._redis is not None
        room = self._ex is None or not self._ex.full()
        streams = self.core.streams(with_executions=room, with_md=self._md is not None)
        if not streams:
            self._stopping.wait(self._block_ms / 1000)
            return
        reply: Any = self._redis.xread(streams, count=500, block=self._block_ms)  # type: ignore[arg-type]
        for stream, entries in reply or []:
            for entry_id, fields in entries:
                before = self.core.exec_cursor
                routed = self.core.route(stream, entry_id, fields)
                if routed is None:
                    continue
                kind, data = routed
                if kind == MD:
                    if self._md is not None:
                        self._md.put(data)
                elif kind == EXECUTION and self._ex is not None and not self._ex.put(data):
                    self.core.exec_cursor = before  # full: read again from here once there is room
                    break
