"""The platform link: the WebSocket server the Bookmap add-on dials (authentication, one session, frames
in order) and the requests that wait for the add-on's answer.

It runs an asyncio event loop in a thread of its own (the adapter base's processor loop is synchronous)
and hands everything it receives to one dispatcher thread, in arrival order, so the adapter's protocol
state has a single writer and a slow Redis call never stalls the socket.

Guarantees, per connection:
- Nothing is acted on before an authenticated `hello`: the first frame must be `hello` within the
  handshake timeout, with the protocol version this side speaks and the shared token (constant-time
  compare). Otherwise the add-on gets `error` (`unauthorized`, `bad_hello`) and the connection is closed
  with code 1008; the add-on retries with its backoff. The token is never logged.
- One add-on, one session: an authenticated connection replaces the previous one, which is closed (the
  add-on reconnected; the old socket is dead or about to be). Events name their session, so the adapter
  can ignore what a replaced session still delivers.
- Liveness both ways: WebSocket pings every heartbeat interval (the add-on answers with pongs; a peer
  silent past the dead-after time is dropped), and a `heartbeat` frame when nothing else was sent for an
  interval, as the schema asks (the add-on drops a link it has heard nothing from for three intervals).
- A frame that does not decode is logged, answered with `error` `bad_message` and skipped: JSON frames
  are self-delimiting, so one bad frame does not put the stream out of step.

Requests that wait (`AddonWaiters`): a submit for the add-on's answer, a query for its
`open_orders_snapshot`. The waiting side is the adapter's processor thread; answers arrive on the
dispatcher thread. A waiter belongs to one session: when that session closes, every waiter on it wakes
up unanswered, so the caller turns it into an unknown outcome at once instead of sitting out its
timeout. A submit is answered only by proof that Bookmap has the order or that the add-on refused it
(`mapping.answers_submit`); the reports themselves go through the adapter base, which holds those of a
running submit and publishes them with its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import logging
import queue
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from nexus_bookmap import addon_protocol as ap
from nexus_protocol.errors import DecodeError

log = logging.getLogger(__name__)
_MAX_FRAME_BYTES = 32 * 1024 * 1024  # an open_orders_snapshot of thousands of orders is a few MB
_POLICY_VIOLATION = 1008


class Listener(Protocol):
    """What the server tells the adapter, always from the dispatcher thread, in order."""

    def on_open(self, session: int, hello: ap.AddonHello) -> None: ...
    def on_message(self, session: int, message: ap.AddonMessage) -> None: ...
    def on_close(self, session: int) -> None: ...
    def on_idle(self) -> None:
        """Called when no frame is waiting, and at least every idle interval under load."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AddonServerConfig:
    host: str = "127.0.0.1"
    port: int = 9003
    token: str = field(default="", repr=False)
    ssl_context: ssl.SSLContext | None = None
    handshake_timeout_s: float = 10.0
    heartbeat_s: float = 5.0
    dead_after_s: float = 20.0
    send_timeout_s: float = 10.0
    idle_interval_s: float = 0.05


@dataclass(slots=True)
class _AddonSession:
    number: int
    ws: ServerConnection
    hello: ap.AddonHello
    last_sent: float = field(default_factory=time.monotonic)


class AddonServer:
    """Listens for the add-on; `send` from any thread; events to a `Listener` on the dispatcher thread."""

    def __init__(self, config: AddonServerConfig, listener: Listener) -> None:
        self.config = config
        self.listener = listener
        self._events: queue.Queue[tuple[str, int, object]] = queue.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._session: _AddonSession | None = None
        self._numbers = itertools.count(1)
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.port: int | None = None
        self.refused = 0  # connections refused at hello (wrong token, bad hello)

    def __repr__(self) -> str:
        s = self._session
        who = f"session {s.number} from add-on {s.hello.instance_id[:8]}" if s else "no session"
        return f"<AddonServer {self.config.host}:{self.port} {who}, refused={self.refused}>"

    # ---- life cycle -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None and not self._stopping.is_set()

    def start(self) -> None:
        """Bind and serve (idempotent). OSError if the port cannot be bound."""
        if self.running:
            return
        self._started.clear()
        self._start_error = None
        loop_thread = threading.Thread(target=self._run_loop, name="bookmap-ws", daemon=True)
        loop_thread.start()
        self._started.wait()
        if self._start_error is not None:
            loop_thread.join(timeout=5)
            raise OSError(f"cannot listen on {self.config.host}:{self.config.port}: {self._start_error}")
        dispatcher = threading.Thread(target=self._dispatch, name="bookmap-dispatch", daemon=True)
        dispatcher.start()
        self._threads = [loop_thread, dispatcher]

    def stop(self) -> None:
        self._stopping.set()
        loop, server = self._loop, self._server
        if loop is not None and server is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(server.close)
        for thread in self._threads:
            thread.join(timeout=5)
        self._server = None

    # ---- the current session ----------------------------------------------------------------------

    @property
    def session(self) -> int | None:
        s = self._session
        return s.number if s is not None else None

    @property
    def hello(self) -> ap.AddonHello | None:
        s = self._session
        return s.hello if s is not None else None

    def send(self, message: ap.AddonMessage, session: int | None = None) -> None:
        """Send one frame on the current session (or only on `session`); ConnectionError if gone."""
        s = self._session
        if s is None or (session is not None and s.number != session):
            raise ConnectionError("no add-on session" if s is None else f"session {session} is closed")
        self._call(self._send(s, ap.encode(message))).result(self.config.send_timeout_s)

    def close_session(self, reason: str) -> None:
        """Drop the current session (the add-on reconnects with its backoff and resends everything)."""
        s = self._session
        if s is not None:
            log.warning("closing add-on session %d: %s", s.number, reason)
            with contextlib.suppress(RuntimeError):
                self._call(s.ws.close(1000, reason[:100]))

    # ---- the event loop thread --------------------------------------------------------------------

    def _call(self, coro: object) -> Future[object]:
        loop = self._loop
        if loop is None or loop.is_closed():
            if asyncio.iscoroutine(coro):
                coro.close()
            raise ConnectionError("the add-on server is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop)  # type: ignore[arg-type]

    def _run_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._start_error = exc
        finally:
            self._server = None
            self._started.set()
            loop.close()

    async def _serve(self) -> None:
        cfg = self.config
        server = await serve(
            self._handle, cfg.host, cfg.port, ssl=cfg.ssl_context, ping_interval=cfg.heartbeat_s,
            ping_timeout=cfg.dead_after_s, max_size=_MAX_FRAME_BYTES, open_timeout=cfg.handshake_timeout_s,
        )  # fmt: skip
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])
        log.info("listening for the Bookmap add-on on %s:%d%s", cfg.host, self.port,
                 " (TLS)" if cfg.ssl_context else "")  # fmt: skip
        self._started.set()
        beat = asyncio.create_task(self._heartbeats())
        try:
            await server.wait_closed()
        finally:
            beat.cancel()

    async def _send(self, s: _AddonSession, text: str) -> None:
        await s.ws.send(text)
        s.last_sent = time.monotonic()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_s / 2)
            s = self._session
            if s is not None and time.monotonic() - s.last_sent >= self.config.heartbeat_s:
                with contextlib.suppress(ConnectionClosed):
                    await self._send(s, ap.encode(ap.AddonHeartbeat(ts_ms=time.time_ns() // 1_000_000)))

    async def _handle(self, ws: ServerConnection) -> None:
        hello = await self._authenticate(ws)
        if hello is None:
            self.refused += 1
            return
        s = _AddonSession(number=next(self._numbers), ws=ws, hello=hello)
        old, self._session = self._session, s
        if old is not None:
            log.info("add-on session %d replaces session %d", s.number, old.number)
            await old.ws.close(1000, "replaced by a newer connection")
        log.info(
            "add-on %s (instance %s, can_trade=%s) connected from %s as session %d",
            hello.addon_version, hello.instance_id, hello.can_trade, ws.remote_address, s.number,
        )  # fmt: skip
        self._events.put(("open", s.number, hello))
        try:
            async for raw in ws:
                try:
                    message = ap.decode(raw)
                except DecodeError as exc:
                    log.warning("session %d: bad frame skipped: %s", s.number, exc)
                    await self._send(s, ap.encode(ap.AddonError(code="bad_message", message=str(exc)[:500])))
                    continue
                self._events.put(("message", s.number, message))
        except ConnectionClosed:
            pass
        finally:
            if self._session is s:
                self._session = None
            log.info("add-on session %d closed (%s)", s.number, ws.close_reason or ws.close_code)
            self._events.put(("close", s.number, None))

    async def _authenticate(self, ws: ServerConnection) -> ap.AddonHello | None:
        try:
            raw = await asyncio.wait_for(ws.recv(), self.config.handshake_timeout_s)
        except (TimeoutError, ConnectionClosed):
            log.warning("connection from %s sent no hello; closed", ws.remote_address)
            await ws.close(_POLICY_VIOLATION, "no hello")
            return None
        hello: ap.AnyMessage | None = None
        problem: str | None = None
        try:
            hello = ap.decode(raw)
        except DecodeError as exc:
            problem = f"first frame is not a valid message: {exc}"
        if not isinstance(hello, ap.AddonHello):
            code, problem = "bad_hello", problem or "the first frame must be hello"
        elif hello.protocol != ap.PROTOCOL_VERSION:
            code, problem = (
                "bad_hello",
                f"protocol {hello.protocol} not spoken here (want {ap.PROTOCOL_VERSION})",
            )
        elif not hmac.compare_digest(hello.token.encode(), self.config.token.encode()):
            code, problem = "unauthorized", "wrong token (NX_BOOKMAP_TOKEN differs on the two sides)"
        else:
            return hello
        log.warning("refused the add-on connection from %s: %s", ws.remote_address, problem)
        with contextlib.suppress(ConnectionClosed):
            await ws.send(ap.encode(ap.AddonError(code=code, message=problem[:500])))
        await ws.close(_POLICY_VIOLATION, code)
        return None

    # ---- the dispatcher thread --------------------------------------------------------------------

    def _dispatch(self) -> None:
        idle_s = self.config.idle_interval_s
        next_idle = time.monotonic() + idle_s
        while not self._stopping.is_set() or not self._events.empty():
            try:
                kind, number, payload = self._events.get(timeout=idle_s)
            except queue.Empty:
                kind, number, payload = "idle", 0, None
            try:
                if kind == "open":
                    assert isinstance(payload, ap.AddonHello)
                    self.listener.on_open(number, payload)
                elif kind == "message":
                    assert isinstance(payload, ap.AddonMessage)
                    self.listener.on_message(number, payload)
                elif kind == "close":
                    self.listener.on_close(number)
                now = time.monotonic()
                if kind == "idle" or now >= next_idle:
                    next_idle = now + idle_s
                    self.listener.on_idle()
            except Exception:
                log.exception("the adapter failed to handle %s from session %d; going on", kind, number)


# ---- requests waiting for the add-on ---------------------------------------------------------------


@dataclass(slots=True)
class SubmitWaiter:
    session: int
    done: threading.Event = field(default_factory=threading.Event)
    answered: bool = False


@dataclass(slots=True)
class QueryWaiter:
    session: int
    done: threading.Event = field(default_factory=threading.Event)
    answer: ap.AddonOrdersSnapshot | None = None


class AddonWaiters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._submits: dict[str, SubmitWaiter] = {}
        self._queries: dict[str, QueryWaiter] = {}
        self._ids = 0

    @contextmanager
    def submit(self, coid: str, session: int) -> Iterator[SubmitWaiter]:
        """Wait for the answer to `coid`'s order_submit inside the block."""
        waiter = SubmitWaiter(session=session)
        with self._lock:
            self._submits[coid] = waiter
        try:
            yield waiter
        finally:
            with self._lock:
                self._submits.pop(coid, None)

    @contextmanager
    def query(self, session: int) -> Iterator[tuple[str, QueryWaiter]]:
        """A fresh request id and the waiter its snapshot will wake."""
        with self._lock:
            self._ids += 1
            request_id = f"q{self._ids}"
            waiter = self._queries[request_id] = QueryWaiter(session=session)
        try:
            yield request_id, waiter
        finally:
            with self._lock:
                self._queries.pop(request_id, None)

    def answered(self, coid: str) -> None:
        """The add-on answered `coid`'s submit (if one waits)."""
        with self._lock:
            waiter = self._submits.get(coid)
        if waiter is not None:
            waiter.answered = True
            waiter.done.set()

    def answer(self, snapshot: ap.AddonOrdersSnapshot) -> None:
        with self._lock:
            waiter = self._queries.get(snapshot.request_id)
        if waiter is not None:
            waiter.answer = snapshot
            waiter.done.set()

    def session_closed(self, session: int) -> None:
        with self._lock:
            waiting: list[SubmitWaiter | QueryWaiter] = [*self._submits.values(), *self._queries.values()]
        for waiter in waiting:
            if waiter.session == session:
                waiter.done.set()
