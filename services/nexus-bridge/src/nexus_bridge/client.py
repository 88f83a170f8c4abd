"""`NexusGatewayInterface`: the threaded client NEXUS uses to reach the mesh.

    gw = NexusGatewayInterface("redis://localhost:6379/0", symbols=["NQ"])
    gw.connect()
    gw.set_market_data_callback(lambda d: print(d["symbol"], d["price"]))
    gw.set_execution_callback(lambda e: print(e["signal_id"], e["status"], e["avg_price"]))
    gw.set_status_callback(print)            # "connected" / "disconnected" / "safe_mode"
    gw.start_listening()
    sid = gw.send_signal("NQ", "BUY", confidence=0.82, quantity=1,
                         mqscore={"composite": 0.7, "noise_level": 0.2})

It is the asyncio client (`aio.py`: reading, safe mode, reconnection, sending) run on an event loop
of its own, on one background thread; the methods here hand each call to that loop and wait for it,
so every method may be called from any thread. Callbacks are plain functions, each kind delivered in
order by its own worker (on a thread of the loop's pool), so a slow callback never holds the reader.
One shortcut: while the reader runs, `send_signal` takes the asyncio client's steps around the XADD
(`build`, `admit`, `send_failed`) but makes the XADD itself on a plain connection from the caller's
thread, saving the hand-over to the loop on the signal path (about 0.1 ms per signal, measured).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

import redis

from nexus_bridge.aio import LINK_ERRORS, AsyncNexusGatewayInterface
from nexus_bridge.listen import ReaderCore
from nexus_bridge.wire import intake_stream
from nexus_mesh.connection import connect as redis_connect
from nexus_protocol.codec import encode
from nexus_protocol.streams import Names

T = TypeVar("T")
P = ParamSpec("P")
Callback = Callable[[Any], Any]


def _signature_of(
    model: Callable[Concatenate[Any, P], Any],
) -> Callable[[Callable[..., T]], Callable[Concatenate[Any, P], T]]:
    """The decorated method takes the parameters of `model` (the asyncio client's twin), for type
    checkers and help(), without writing them out a second time."""

    def adopt(method: Callable[..., T]) -> Callable[Concatenate[Any, P], T]:
        method.__signature__ = inspect.signature(model).replace(  # type: ignore[attr-defined]
            return_annotation=inspect.signature(method).return_annotation
        )
        return method

    return adopt


class _LoopThread:
    """An event loop running on a daemon thread of its own, started at the first call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run the coroutine on the loop and wait for its result (its exception is raised here)."""
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="nexus-client")
                self._thread.daemon = True  # a client never stopped does not hold the program open
                self._thread.start()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join()
            loop.close()  # callbacks still running in the loop's threads finish on their own


class NexusGatewayInterface:
    """The mesh as NEXUS sees it: ticks in, signals out, executions back. Takes the arguments of
    `AsyncNexusGatewayInterface`; every method is thread-safe."""

    def __init__(self, url: str | None = None, **options: Any) -> None:
        self.aio = AsyncNexusGatewayInterface(url, **options)
        self._loop = _LoopThread()
        self._redis: redis.Redis | None = None  # send_signal's own link (see the module docstring)

    # ---- setup --------------------------------------------------------------------------------

    def connect(self, timeout_s: float = 5.0) -> None:
        """Reach Redis (retrying until `timeout_s`), note where executions start, read the status;
        raises BridgeConnectionError when Redis cannot be reached."""
        self._loop.run(self.aio.connect(timeout_s))
        self._link()

    def subscribe(self, *symbols: str) -> None:
        """Read market data of these roots too (`NQ`, `ES`...)."""
        self._loop.run(_call(self.aio.subscribe, *symbols))

    def set_market_data_callback(self, fn: Callback) -> None:
        self.aio.set_market_data_callback(fn)

    def set_execution_callback(self, fn: Callback) -> None:
        self.aio.set_execution_callback(fn)

    def set_status_callback(self, fn: Callback) -> None:
        self.aio.set_status_callback(fn)

    def start_listening(self) -> None:
        """Start reading and delivering to the callbacks (connects first if needed)."""
        self._loop.run(self.aio.start_listening())
        self._link()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop reading; executions and status changes already read are still delivered (within the
        timeout), queued market data is dropped; then close the connection and the loop."""
        self._loop.run(self.aio.stop(timeout_s))
        self._loop.close()
        if self._redis is not None:
            self._redis.close()
            self._redis = None

    def _link(self) -> None:
        if self._redis is None:
            self._redis = redis_connect(self.aio.url, client_name="nexus-client-send")

    def __enter__(self) -> NexusGatewayInterface:
        self.connect()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ---- sending ------------------------------------------------------------------------------

    @_signature_of(AsyncNexusGatewayInterface.send_signal)
    def send_signal(self, *args: Any, **options: Any) -> str:
        """As `AsyncNexusGatewayInterface.send_signal`: returns the signal id; raises SignalError for
        a bad argument, SafeModeError while the client is in safe mode (nothing is sent),
        SendUnknownError (a SafeModeError) when the link failed during the send (it may have arrived)."""
        if not self.aio.listening or self._redis is None:
            return self._loop.run(self.aio.send_signal(*args, **options))
        env = self.aio.build(*args, **options)
        sid = self.aio.admit(env)
        try:
            self._redis.xadd(intake_stream(self.aio.names), encode(env))  # type: ignore[arg-type]
        except LINK_ERRORS as exc:
            raise self._loop.run(_call(self.aio.send_failed, sid, exc)) from exc
        return sid

    # ---- state (read from the asyncio client; plain values, safe from any thread) ---------------

    @property
    def status(self) -> str:
        return self.aio.status

    def is_connected(self) -> bool:
        return self.aio.is_connected()

    @property
    def dropped_market_data(self) -> int:
        return self.aio.dropped_market_data

    @property
    def bridge_detail(self) -> dict[str, Any]:
        return self.aio.bridge_detail

    @property
    def core(self) -> ReaderCore:
        return self.aio.core

    @property
    def names(self) -> Names:
        return self.aio.names

    def stats(self) -> dict[str, Any]:
        return self.aio.stats()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} via {self.aio!r}>"


async def _call(fn: Callable[..., T], *args: Any) -> T:
    """A plain call made on the loop (where the reader reads the state it changes)."""
    return fn(*args)
