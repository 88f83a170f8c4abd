"""`AsyncNexusGatewayInterface`: the same client as `client.py` for an asyncio program.

    gw = AsyncNexusGatewayInterface("redis://localhost:6379/0", symbols=["NQ"])
    await gw.connect()
    gw.set_market_data_callback(on_tick)          # a coroutine function, or a plain function
    gw.set_execution_callback(on_execution)
    await gw.start_listening()
    sid = await gw.send_signal("NQ", "SELL", 0.9, 1)

The reader is a task; each callback kind has its own worker task (`dispatch.AsyncDispatcher`), which
awaits a coroutine callback or runs a plain one in a thread, so neither a slow callback nor a blocking
one holds the reader or the event loop. Safe mode and reconnection behave as in the threaded client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio as aioredis

from nexus_bridge.dispatch import AsyncDispatcher
from nexus_bridge.errors import BridgeConnectionError, SafeModeError
from nexus_bridge.listen import EXECUTION, MD, ClientOptions, last_id, status_of
from nexus_bridge.wire import CONNECTED, DISCONNECTED, build_signal, intake_stream, status_key
from nexus_mesh.connection import as_bytes
from nexus_protocol.codec import encode, unpack
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import Heartbeat

log = logging.getLogger(__name__)
_LINK_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class AsyncNexusGatewayInterface(ClientOptions):
    """Coroutine twin of `NexusGatewayInterface`; same arguments, same callbacks, same errors."""

    def _setup(self) -> None:
        self._redis: aioredis.Redis | None = None
        self._md: AsyncDispatcher | None = None
        self._ex: AsyncDispatcher | None = None
        self._st: AsyncDispatcher | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._link_up = False
        self._status = DISCONNECTED
        self._status_since = time.monotonic()
        self._checked_at = 0.0
        self.bridge_detail: dict[str, Any] = {}

    async def connect(self, timeout_s: float = 5.0) -> None:
        if self._redis is None:
            self._redis = aioredis.Redis.from_url(
                self.url,
                socket_timeout=self._block_ms / 1000 + 5,
                socket_connect_timeout=5.0,
                client_name="nexus-client-async",
            )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await self._redis.ping()
                break
            except _LINK_ERRORS as exc:
                if time.monotonic() > deadline:
                    raise BridgeConnectionError(f"cannot reach {self.url}: {exc}") from exc
                await asyncio.sleep(0.1)
        await self._resolve()
        await self._check_status(force=True)

    def subscribe(self, *symbols: str) -> None:
        self.core.subscribe(*symbols)

    def set_market_data_callback(self, fn: Callable[[Any], Any]) -> None:
        self._md = AsyncDispatcher("market-data", fn, maxsize=self._queues[0], drop_oldest=True)

    def set_execution_callback(self, fn: Callable[[Any], Any]) -> None:
        self._ex = AsyncDispatcher("executions", fn, maxsize=self._queues[1], drop_oldest=False)

    def set_status_callback(self, fn: Callable[[Any], Any]) -> None:
        self._st = AsyncDispatcher("status", fn, maxsize=1_000, drop_oldest=True)

    async def start_listening(self) -> None:
        if self._redis is None:
            await self.connect()
        for d in (self._md, self._ex, self._st):
            if d is not None:
                d.start()
        if self._reader is None:
            self._stopping.clear()
            self._reader = asyncio.get_running_loop().create_task(self._read_loop(), name="nexus-reader")

    async def stop(self, timeout_s: float = 5.0) -> None:
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

    async def send_signal(
        self,
        symbol: str,
        signal: str | float,
        confidence: float,
        quantity: float,
        mqscore: object = None,
        **options: Any,
    ) -> str:
        """As `NexusGatewayInterface.send_signal`."""
        options.setdefault("strategy", self.strategy)
        env = build_signal(symbol, signal, confidence, quantity, mqscore, **options)
        if self._redis is None:
            raise SafeModeError(DISCONNECTED, "connect() first")
        if self._reader is None:
            await self._check_status()
        if self._status != CONNECTED:
            why = (
                "no connection to the mesh's Redis"
                if self._status == DISCONNECTED
                else "no bridge service is running (its status key is missing)"
            )
            raise SafeModeError(self._status, why, since_s=time.monotonic() - self._status_since)
        sid = env.body.signal_id
        self.core.sent.add(sid)
        try:
            await self._redis.xadd(intake_stream(self.names), encode(env))  # type: ignore[arg-type]
        except _LINK_ERRORS as exc:
            self._set_status(False, False)
            raise SafeModeError(
                DISCONNECTED,
                f"the connection failed while sending signal {sid} ({exc}): it may "
                "or may not have arrived; its execution, if any, is still delivered",
            ) from exc
        return sid

    async def _resolve(self) -> None:
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
            except _LINK_ERRORS as exc:
                if self._link_up:
                    log.warning("lost the connection to %s (%s): retrying with backoff", self.url, exc)
                self._set_status(False, False)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, self._max_backoff_s)

    async def _read_once(self) -> None:
        assert self._redis is not None
        streams = self.core.streams(
            with_executions=self._ex is None or not self._ex.full(), with_md=self._md is not None
        )
        if not streams:
            await asyncio.sleep(self._block_ms / 1000)
            return
        reply: Any = await self._redis.xread(streams, count=500, block=self._block_ms)  # type: ignore[arg-type]
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
                    self.core.exec_cursor = before
                    break
