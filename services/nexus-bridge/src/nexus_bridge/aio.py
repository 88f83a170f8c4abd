"""`AsyncNexusGatewayInterface`: the client NEXUS uses to reach the mesh, for an asyncio program. The
threaded `NexusGatewayInterface` (client.py) runs this one on an event loop of its own.

    gw = AsyncNexusGatewayInterface("redis://localhost:6379/0", symbols=["NQ"])
    await gw.connect()
    gw.set_market_data_callback(on_tick)          # a coroutine function, or a plain function
    gw.set_execution_callback(on_execution)
    gw.set_status_callback(on_status)             # "connected" / "disconnected" / "safe_mode"
    await gw.start_listening()
    sid = await gw.send_signal("NQ", "SELL", 0.9, 1, mqscore={"composite": 0.7, "noise_level": 0.2})

The reader is a task doing plain XREADs (market data and executions, `listen.ReaderCore` decides
what) that only queues what it reads; each callback kind has its own worker task
(`dispatch.Dispatcher`), which awaits a coroutine callback or runs a plain one in a thread, so
neither a slow callback nor a blocking one holds the reader or the event loop. A lost connection is
retried with backoff and reported to the status callback. While the link is down - or no bridge
service keeps its status key alive - the client is in safe mode: `send_signal` raises
`SafeModeError` instead of sending. The filters and guards are not here: they run in the bridge
service, which reads what `send_signal` puts on the intake stream (docs/nexus-bridge.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
import redis.asyncio as aioredis

from nexus_bridge.dispatch import Dispatcher
from nexus_bridge.errors import BridgeConnectionError, SafeModeError, SendUnknownError
from nexus_bridge.listen import EXECUTION, MD, ReaderCore, last_id, status_of
from nexus_bridge.wire import CONNECTED, DISCONNECTED, build_signal, intake_stream, status_key
from nexus_mesh.connection import CLUSTER_BLOCK_MS, as_bytes, by_slot, connect_async, is_cluster
from nexus_protocol.codec import Envelope, encode, unpack
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import Heartbeat, Signal
from nexus_protocol.streams import DEFAULT_NAMESPACE, Names

log = logging.getLogger(__name__)
LINK_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class AsyncNexusGatewayInterface:
    """The mesh as NEXUS sees it: ticks in, signals out, executions back.

    `url`: the mesh's Redis (else NX_REDIS_URL); `namespace` (else NX_NAMESPACE, else `nx`);
    `symbols`: the roots whose market data to read (none: every `nx:{md:*}` stream, rediscovered
    every `discover_every_s`); `all_executions`: every execution, not only those of signals sent by
    this client; `require_bridge`: safe mode while no bridge service runs; `strategy`: the default
    strategy name on signals. Queue sizes bound what waits for a slow callback: market data drops
    its oldest, executions stop the reader until there is room (nothing is lost).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        namespace: str | None = None,
        symbols: Sequence[str] = (),
        all_executions: bool = False,
        require_bridge: bool = True,
        market_data_queue: int = 10_000,
        execution_queue: int = 100_000,
        block_ms: int = 200,
        status_poll_s: float = 1.0,
        discover_every_s: float = 5.0,
        max_backoff_s: float = 5.0,
        strategy: str = "",
    ) -> None:
        url = url or os.environ.get("NX_REDIS_URL")
        if not url:
            raise BridgeConnectionError("no Redis URL: pass one (redis://host:6379/0) or set NX_REDIS_URL")
        self.url = url
        self.names = Names(namespace or os.environ.get("NX_NAMESPACE") or DEFAULT_NAMESPACE)
        self.core = ReaderCore(self.names, all_executions=all_executions)
        self.core.subscribe(*symbols)
        self._discover = not symbols
        self.require_bridge = require_bridge
        self.strategy = strategy
        self._queues = (market_data_queue, execution_queue)
        self._block_ms, self._status_poll_s, self._discover_s = block_ms, status_poll_s, discover_every_s
        self._max_backoff_s = max_backoff_s
        self._redis: aioredis.Redis | None = None
        self._md: Dispatcher | None = None
        self._ex: Dispatcher | None = None
        self._st: Dispatcher | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._link_up = False
        self._status = DISCONNECTED
        self._status_since = time.monotonic()
        self._checked_at = 0.0
        self.bridge_detail: dict[str, Any] = {}

    # ---- setup --------------------------------------------------------------------------------

    async def connect(self, timeout_s: float = 5.0) -> None:
        """Reach Redis (retrying until `timeout_s`), note where executions start, read the status."""
        if self._redis is None:
            self._redis = connect_async(
                self.url, socket_timeout_s=self._block_ms / 1000 + 5, client_name="nexus-client-async"
            )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await self._redis.ping()
                break
            except LINK_ERRORS as exc:
                if time.monotonic() > deadline:
                    raise BridgeConnectionError(f"cannot reach {self.url}: {exc}") from exc
                await asyncio.sleep(0.1)
        await self._resolve()
        await self._check_status(force=True)

    def subscribe(self, *symbols: str) -> None:
        """Read market data of these roots too (`NQ`, `ES`...)."""
        self.core.subscribe(*symbols)

    def set_market_data_callback(self, fn: Callable[[Any], Any]) -> None:
        self._md = Dispatcher("market-data", fn, maxsize=self._queues[0], drop_oldest=True)

    def set_execution_callback(self, fn: Callable[[Any], Any]) -> None:
        self._ex = Dispatcher("executions", fn, maxsize=self._queues[1], drop_oldest=False)

    def set_status_callback(self, fn: Callable[[Any], Any]) -> None:
        self._st = Dispatcher("status", fn, maxsize=1_000, drop_oldest=True)

    async def start_listening(self) -> None:
        """Start the reader task and the callback workers (connects first if needed)."""
        if self._redis is None:
            await self.connect()
        for d in (self._md, self._ex, self._st):
            if d is not None:
                d.start()
        if self._reader is None:
            self._stopping = asyncio.Event()  # of this loop (a threaded client may run it on a new one)
            self._reader = asyncio.get_running_loop().create_task(self._read_loop(), name="nexus-reader")

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop reading; executions and status changes already read are still delivered (within the
        timeout), queued market data is dropped; then close the connection."""
        self._stopping.set()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, timeout_s)
            except TimeoutError:
                self._reader.cancel()
            self._reader = None
        if self._md is not None:
            await self._md.stop(drain=False, timeout_s=timeout_s)
        for d in (self._ex, self._st):
            if d is not None:
                await d.stop(drain=True, timeout_s=timeout_s)
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def __aenter__(self) -> AsyncNexusGatewayInterface:
        await self.connect()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # ---- state --------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        return self._status

    @property
    def listening(self) -> bool:
        """The reader runs (and keeps the status fresh)."""
        return self._reader is not None

    def is_connected(self) -> bool:
        return self._status == CONNECTED

    @property
    def dropped_market_data(self) -> int:
        return self._md.dropped if self._md is not None else 0

    def stats(self) -> dict[str, Any]:
        return {
            "status": self._status,
            "sent": len(self.core.sent),
            "symbols": sorted(self.core.symbols),
            **{d.name: d.stats() for d in (self._md, self._ex, self._st) if d is not None},
        }

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.names.namespace} {self._status} sent={len(self.core.sent)} "
            f"dropped_md={self.dropped_market_data}>"
        )

    def _set_status(self, link_up: bool, bridge_alive: bool) -> None:
        self._link_up = link_up
        new = status_of(link_up, bridge_alive, self.require_bridge)
        if new == self._status:
            return
        self._status, self._status_since = new, time.monotonic()
        log.info("status: %s", new)
        if self._st is not None:
            self._st.put(new)

    async def _check_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < self._status_poll_s:
            return
        self._checked_at = now
        assert self._redis is not None
        try:
            raw = await self._redis.get(status_key(self.names))
        except LINK_ERRORS:
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

    async def send_signal(
        self,
        /,  # positional self: the threaded client adopts this signature (client._signature_of)
        symbol: str,
        signal: str | float,
        confidence: float,
        quantity: float,
        mqscore: object = None,
        **options: Any,
    ) -> str:
        """Send one signal to the bridge; returns its id (a ULID). Options: order_type, limit_price,
        reference_price, venues, strategy, reduce_only (a closing trade: passes the kill switch),
        signal_id (the caller's own ULID instead of a fresh one). Raises SignalError for a bad
        argument, SafeModeError while the client is in safe mode (nothing is sent), SendUnknownError
        (a SafeModeError) when the link failed during the send (it may have arrived)."""
        env = self.build(symbol, signal, confidence, quantity, mqscore, **options)
        if self._reader is None:
            await self._check_status()  # no reader keeps it fresh
        sid = self.admit(env)
        assert self._redis is not None
        try:
            await self._redis.xadd(intake_stream(self.names), encode(env))  # type: ignore[arg-type]
        except LINK_ERRORS as exc:
            raise self.send_failed(sid, exc) from exc
        return sid

    # The steps of send_signal around its XADD (no I/O), shared with the threaded client's own XADD.

    def build(self, *args: Any, **options: Any) -> Envelope[Signal]:
        """The signal `send_signal(*args, **options)` sends: SignalError for a bad argument,
        SafeModeError before `connect()`."""
        options.setdefault("strategy", self.strategy)
        env = build_signal(*args, **options)
        if self._redis is None:
            raise SafeModeError(DISCONNECTED, "connect() first")
        return env

    def admit(self, env: Envelope[Signal]) -> str:
        """SafeModeError unless connected; else the signal's id, remembered as ours before the XADD
        (its executions may come before the XADD returns)."""
        if self._status != CONNECTED:
            why = (
                "no connection to the mesh's Redis"
                if self._status == DISCONNECTED
                else "no bridge service is running (its status key is missing)"
            )
            raise SafeModeError(self._status, why, since_s=time.monotonic() - self._status_since)
        sid = env.body.signal_id
        self.core.sent.add(sid)
        return sid

    def send_failed(self, sid: str, exc: Exception) -> SendUnknownError:
        """The link failed during the XADD of `sid`: disconnected, and the error to raise."""
        self._set_status(False, False)
        return SendUnknownError(sid, exc)

    # ---- the reader ---------------------------------------------------------------------------

    async def _resolve(self) -> None:
        """Look up where each new stream starts (its end now)."""
        streams = self.core.unresolved()
        if not streams:
            return
        assert self._redis is not None
        pipe = self._redis.pipeline(transaction=False)
        for s in streams:
            pipe.xrevrange(s, "+", "-", count=1)
        for s, reply in zip(streams, await pipe.execute(), strict=True):
            self.core.resolved(s, last_id(reply))

    async def _read_loop(self) -> None:
        backoff = 0.1
        next_discovery = 0.0
        while not self._stopping.is_set():
            try:
                if not self._link_up:
                    await self._check_status(force=True)
                    if not self._link_up:
                        raise redis.ConnectionError("still unreachable")
                    self.core.reconnected()
                    backoff = 0.1
                if self._discover and self._md is not None and time.monotonic() >= next_discovery:
                    next_discovery = time.monotonic() + self._discover_s
                    assert self._redis is not None
                    keys = [
                        k
                        async for k in self._redis.scan_iter(
                            match=f"{self.names.namespace}:{{md:*", count=1000
                        )
                    ]
                    self.core.discovered(keys)
                await self._resolve()
                await self._check_status()
                await self._read_once()
            except LINK_ERRORS as exc:
                if self._link_up:
                    log.warning("lost the connection to %s (%s): retrying with backoff", self.url, exc)
                self._set_status(False, False)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, self._max_backoff_s)

    async def _xread(self, streams: dict[str, str]) -> Any:
        """One XREAD; on a cluster one per hash slot at once, first without blocking, then (all empty)
        each blocking at most CLUSTER_BLOCK_MS."""
        assert self._redis is not None
        groups = by_slot(streams) if is_cluster(self._redis) else [streams]
        if len(groups) == 1:
            return await self._redis.xread(streams, count=500, block=self._block_ms)  # type: ignore[arg-type]
        for block in (None, min(self._block_ms, CLUSTER_BLOCK_MS)):  # an empty round, then one that waits
            replies = await asyncio.gather(*(self._redis.xread(g, count=500, block=block) for g in groups))  # type: ignore[arg-type]
            got = [entry for reply in replies for entry in reply or ()]
            if got:
                break
        return got

    async def _read_once(self) -> None:
        assert self._redis is not None
        streams = self.core.streams(
            with_executions=self._ex is None or not self._ex.full(), with_md=self._md is not None
        )
        if not streams:
            await asyncio.sleep(self._block_ms / 1000)
            return
        reply = await self._xread(streams)
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
