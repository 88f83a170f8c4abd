"""A simulated NinjaTrader 8 / Quantower: the AddOn's (plugin's) side of the bridge protocol, in Python.

It dials the adapter's server, says hello with the token, reconnects with backoff after any close,
and plays a platform on nexus_sim: orders go to the `SimPlatform` engine, fills come back as
`execution_update`s with execution ids that never repeat, `open_orders_query` is answered from the
`Registry`. Engine and registry belong to the simulator, not to a connection, so a dropped connection
or a restarted adapter finds the platform as it left it, with everything that happened meanwhile.

Faults, armed one at a time with `arm` (one-shot):
- `drop_after_submit`: the platform places the order, the connection drops before the answer goes out;
- `drop_before_fill`: `accepted` goes out, then the connection drops; the fill happens anyway and must
  be recovered through `open_orders_query` after the reconnect;
- `mute_after_submit`: the order is placed (and fills) but nothing about it is sent, the connection
  stays up: the adapter waits for an answer (a test kills it meanwhile);
- `garbage`: bytes that are not a frame (the adapter must refuse them and close; we reconnect);
- `stop_heartbeat`: this connection goes silent (the adapter must drop it after 3 intervals).
"""

from __future__ import annotations

import contextlib
import logging
import random
import select
import socket
import ssl
import threading
import time
from enum import StrEnum

from nexus_nt8.config import PlatformProfile
from nexus_nt8.simulator.platform import PlatformSide
from nexus_nt8.simulator.registry import Registry
from nexus_nt8.simulator.venue import SimPlatform
from nexus_protocol.bridge import (
    BridgeErrorCode,
    BridgeHeartbeat,
    BridgeMessage,
    BridgeProtocolError,
    BridgeTick,
    ErrorMessage,
    FrameDecoder,
    FrameEncoder,
    Hello,
    HelloAck,
    MdSubscribe,
    MdUnsubscribe,
    OpenOrdersQuery,
    OrderCancel,
    OrderSubmit,
)
from nexus_sim.worker import Worker

log = logging.getLogger(__name__)
GARBAGE = b"GET / HTTP/1.1\r\nHost: not-a-bridge-frame\r\n\r\n"


class Fault(StrEnum):
    DROP_AFTER_SUBMIT = "drop_after_submit"
    DROP_BEFORE_FILL = "drop_before_fill"
    MUTE_AFTER_SUBMIT = "mute_after_submit"
    GARBAGE = "garbage"
    STOP_HEARTBEAT = "stop_heartbeat"


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.encoder = FrameEncoder()
        self.decoder = FrameDecoder()
        self.ready = False
        self.silent = False
        self.interval_s = 5.0
        self.subscriptions: set[str] = set()
        self.opened = self.last_rx = self.last_tx = time.monotonic()

    def send(self, msg: BridgeMessage) -> None:
        self.sock.sendall(self.encoder.encode(msg))
        self.last_tx = time.monotonic()


class BridgeSimulator:
    def __init__(
        self,
        profile: PlatformProfile,
        *,
        port: int,
        token: str,
        host: str = "127.0.0.1",
        venue: SimPlatform | None = None,
        md_interval_s: float = 0.05,
        commission: float = 0.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 1.0,
        stable_after_s: float = 10.0,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        self.profile = profile
        self.venue = venue or SimPlatform(profile)
        self.registry = Registry()
        self.platform = PlatformSide(
            profile, self.venue, self.registry, send=self._send_ready, commission=commission
        )
        self.host, self.port, self.token = host, port, token
        self.md_interval_s = md_interval_s
        self.backoff = (backoff_initial_s, backoff_max_s, stable_after_s)
        self.tls, self.server_hostname = tls, server_hostname
        self.connections = 0  # TCP connections made
        self.sessions = 0  # accepted handshakes
        self.closes: list[str] = []  # why each connection ended
        self._lock = threading.RLock()
        self._armed: set[Fault] = set()
        self._conn: _Conn | None = None
        self._attempt = 0
        self._next_connect = 0.0
        self._next_step = 0.0
        self._worker = Worker(self._run, f"sim-{profile.venue}")
        self._stop = self._worker.stopping

    def __repr__(self) -> str:
        return (
            f"BridgeSimulator({self.profile.platform.value} -> {self.host}:{self.port}, "
            f"connections={self.connections}, sessions={self.sessions}, ready={self.ready})"
        )

    # ---- control --------------------------------------------------------------------------------

    def start(self) -> BridgeSimulator:
        self._worker.start()
        return self

    def stop(self) -> None:
        self._worker.stop()
        with self._lock:
            self._drop("simulator stopped", reconnect=False)

    @property
    def ready(self) -> bool:
        conn = self._conn
        return conn is not None and conn.ready

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._armed.add(fault)

    def set_price(self, instrument: str, price: float) -> None:
        """Move the market; resting orders that cross trade, and their reports go out (or are journaled)."""
        with self._lock:
            self.platform.apply(self.venue.set_price(instrument, price))

    def drop(self, reason: str = "dropped by the test") -> None:
        with self._lock:
            self._drop(reason)

    # ---- the loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                if self._conn is None and now >= self._next_connect:
                    self._connect()
                if now >= self._next_step:
                    self._next_step = now + self.md_interval_s
                    self.platform.apply(self.venue.step())
                    self._beat(now)
            conn = self._conn
            if conn is None:
                self._stop.wait(0.01)
                continue
            try:
                readable = select.select([conn.sock], [], [], 0.01)[0] or (
                    isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending()
                )
                data = conn.sock.recv(65_536) if readable else None
            except (OSError, ValueError) as exc:
                with self._lock:
                    if self._conn is conn:
                        self._drop(f"read failed: {exc}")
                continue
            with self._lock:
                if self._conn is conn and data is not None:
                    self._receive(conn, data)

    def _connect(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=2.0)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.server_hostname or self.host)
            sock.settimeout(5.0)
        except OSError as exc:
            self._schedule(f"connect failed: {exc}", opened=time.monotonic())
            return
        self.connections += 1
        conn = self._conn = _Conn(sock)
        self._send(
            conn,
            Hello(
                platform=self.profile.platform,
                platform_version=self.profile.platform_version,
                accounts=list(self.venue.accounts),
                auth_token=self.token,
            ),
        )

    def _receive(self, conn: _Conn, data: bytes) -> None:
        if not data:
            self._drop("closed by the adapter")
            return
        conn.last_rx = time.monotonic()
        try:
            messages = conn.decoder.feed(data)
        except BridgeProtocolError as exc:
            for msg in exc.decoded:
                self._handle(conn, msg)
            log.error("bad frame from the adapter: %s", exc)
            self._send(conn, ErrorMessage(code=BridgeErrorCode.BAD_FRAME, message=str(exc)))
            self._drop(f"bad frame: {exc.kind.value}")
            return
        for msg in messages:
            if self._conn is not conn:
                return
            self._handle(conn, msg)

    def _beat(self, now: float) -> None:
        conn = self._conn
        if conn is None:
            return
        if not conn.ready:
            if now - conn.opened > 10.0:
                self._drop("no hello_ack within 10 s")
            return
        if Fault.GARBAGE in self._armed:
            self._armed.discard(Fault.GARBAGE)
            log.warning("fault: sending garbage to the adapter")
            conn.sock.sendall(GARBAGE)
        if Fault.STOP_HEARTBEAT in self._armed:
            self._armed.discard(Fault.STOP_HEARTBEAT)
            log.warning("fault: this connection goes silent")
            conn.silent = True
        if conn.silent:
            return
        for instrument in sorted(conn.subscriptions):
            q = self.venue.quote(instrument)
            self._send(
                conn,
                BridgeTick(
                    instrument=instrument,
                    bid=q.bid,
                    ask=q.ask,
                    last=q.last,
                    bid_size=q.bid_size,
                    ask_size=q.ask_size,
                    last_size=q.last_size,
                    time_ns=q.ts_ns,
                ),
            )
        if self._conn is conn and now - conn.last_tx >= conn.interval_s:
            self._send(conn, BridgeHeartbeat(time_ns=time.time_ns()))
        if self._conn is conn and now - conn.last_rx > 3 * conn.interval_s:
            self._drop("adapter silent for 3 heartbeat intervals")

    # ---- messages -------------------------------------------------------------------------------

    def _handle(self, conn: _Conn, msg: BridgeMessage) -> None:
        match msg:
            case HelloAck(accepted=True):
                conn.ready, conn.interval_s = True, msg.heartbeat_interval_ms / 1000
                self.sessions += 1
                for snapshot in self.platform.snapshots():
                    self._send(conn, snapshot)
            case HelloAck():
                log.error("hello refused: %s", msg.reason)
                self._drop(f"hello refused: {msg.reason}")
            case OrderSubmit():
                self._on_submit(msg)
            case OrderCancel():
                self.platform.cancel(msg)
            case OpenOrdersQuery():
                self._send(conn, self.platform.answer(msg))
            case MdSubscribe():
                problem = self.platform.subscribe_problem(msg.instrument)
                if problem is None:
                    conn.subscriptions.add(msg.instrument)
                else:
                    self._send(conn, ErrorMessage(code=BridgeErrorCode.UNKNOWN_INSTRUMENT, message=problem,
                                                  ref_seq=msg.seq))  # fmt: skip
            case MdUnsubscribe():
                conn.subscriptions.discard(msg.instrument)
            case ErrorMessage():
                log.warning("adapter error %s: %s", msg.code.value, msg.message)
            case BridgeHeartbeat():
                pass  # every frame counts as life (last_rx); nothing to answer
            case _:
                log.warning("unexpected %s from the adapter", msg.TYPE)

    def _on_submit(self, msg: OrderSubmit) -> None:
        reports = self.platform.submit(msg)
        if reports is None:
            return  # answered already: a repeated id, or refused up front
        if Fault.DROP_AFTER_SUBMIT in self._armed:
            self._armed.discard(Fault.DROP_AFTER_SUBMIT)
            self._drop("fault: drop after submit")
        elif Fault.DROP_BEFORE_FILL in self._armed:
            self._armed.discard(Fault.DROP_BEFORE_FILL)
            self.platform.apply([r for r in reports if not r.is_fill])
            self._drop("fault: drop after accepted, before the fill")
        elif Fault.MUTE_AFTER_SUBMIT in self._armed:
            self._armed.discard(Fault.MUTE_AFTER_SUBMIT)
            self.platform.apply(reports, quiet=True)
            return
        self.platform.apply(reports)  # whatever cannot be sent now is journaled: open_orders_query tells

    # ---- sending and dropping -------------------------------------------------------------------

    def _send_ready(self, msg: BridgeMessage) -> None:
        conn = self._conn
        if conn is not None and conn.ready:
            self._send(conn, msg)

    def _send(self, conn: _Conn, msg: BridgeMessage) -> None:
        if self._conn is not conn:
            return
        try:
            conn.send(msg)
        except OSError as exc:
            self._drop(f"send failed: {exc}")

    def _drop(self, reason: str, *, reconnect: bool = True) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        self.closes.append(reason)
        log.info("connection %d closed: %s", self.connections, reason)
        with contextlib.suppress(OSError):
            conn.sock.close()
        if reconnect:
            self._schedule(reason, opened=conn.opened)

    def _schedule(self, reason: str, *, opened: float) -> None:
        initial, cap, stable = self.backoff
        if time.monotonic() - opened >= stable:
            self._attempt = 0
        d = min(cap, initial * 2**self._attempt)
        delay = random.uniform(d / 2, d)
        self._attempt += 1
        self._next_connect = time.monotonic() + delay
        log.debug("%s; reconnecting in %.0f ms", reason, delay * 1000)
