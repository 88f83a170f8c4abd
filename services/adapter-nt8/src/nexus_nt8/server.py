"""The bridge server: the TCP (optionally TLS) listener the NinjaTrader AddOn / Quantower plugin dials.

Guarantees, per connection (docs/bridge-protocol.md, sections 1 and 5):
- Nothing is acted on before an authenticated `hello`: the first frame must be `hello` (else `error`
  `not_authenticated`, close) and carry the shared token (constant-time compare), protocol version 1,
  the configured platform and an account this adapter trades; otherwise `hello_ack` refused, close.
  The token is never logged (the `Hello` model's repr leaves it out).
- One platform instance, one session: an authenticated connection replaces the previous one, which
  is closed (the platform reconnected; the old socket is dead or about to be).
- Heartbeats both ways: the server sends `heartbeat` when it has sent nothing for one interval and
  drops a peer it has heard nothing from for three intervals.
- A frame that does not decode (garbage, wrong magic, bad JSON, a sequence gap) is logged with its
  reason, answered with `error` `bad_frame` (best effort), and the connection is closed: the byte
  stream is out of sync and guessing would be worse. Messages decoded before it are still handled.
  The platform reconnects on its own.
Order semantics live elsewhere (`link`, `adapter`); this module only moves authenticated frames.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

from nexus_protocol.bridge import (
    PROTOCOL_VERSION,
    BridgeErrorCode,
    BridgeHeartbeat,
    BridgeMessage,
    BridgeProtocolError,
    ErrorMessage,
    FrameDecoder,
    FrameEncoder,
    Hello,
    HelloAck,
    Platform,
)

log = logging.getLogger(__name__)
_SEND_TIMEOUT_S = 10.0


class SessionClosed(ConnectionError):
    """The session is gone; nothing more can be sent on it."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeServerConfig:
    host: str
    port: int
    auth_token: SecretStr
    platform: Platform
    heartbeat_interval_ms: int
    handshake_timeout_s: float = 10.0
    ssl_context: ssl.SSLContext | None = None


class SessionHandler(Protocol):
    def hello_problem(self, hello: Hello) -> str | None:
        """Why this (authenticated) hello must be refused, or None."""

    def on_open(self, session: BridgeSession) -> None:
        """The handshake succeeded (called on the session's thread before any later frame)."""

    def on_message(self, session: BridgeSession, msg: BridgeMessage) -> None: ...

    def on_close(self, session: BridgeSession, reason: str) -> None: ...


class BridgeSession:
    """One accepted connection. `send` is thread-safe; everything else runs on the session's thread."""

    def __init__(self, number: int, sock: socket.socket, peer: str) -> None:
        self.number = number
        self.peer = peer
        self.hello: Hello | None = None
        self._sock = sock
        self._encoder = FrameEncoder()
        self._send_lock = threading.Lock()
        self._closed = threading.Event()
        self.close_reason = ""
        self.last_tx = time.monotonic()
        self.last_rx = time.monotonic()

    def __repr__(self) -> str:
        return f"BridgeSession(#{self.number} {self.peer}, closed={self.closed})"

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def send(self, msg: BridgeMessage) -> int:
        """Stamp, frame and send; returns the frame's seq. Raises SessionClosed if it cannot."""
        with self._send_lock:
            if self.closed:
                raise SessionClosed(f"session #{self.number} is closed ({self.close_reason})")
            frame = self._encoder.encode(msg)
            try:
                self._sock.sendall(frame)
            except OSError as exc:
                self._close_locked(f"send failed: {exc}")
                raise SessionClosed(f"session #{self.number}: send failed ({exc})") from exc
            self.last_tx = time.monotonic()
            return self._encoder.last_seq

    def close(self, reason: str) -> None:
        with self._send_lock:
            self._close_locked(reason)

    def _close_locked(self, reason: str) -> None:
        if self.closed:
            return
        self.close_reason = reason
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def readable(self, timeout_s: float) -> bool:
        if isinstance(self._sock, ssl.SSLSocket) and self._sock.pending():
            return True
        readable, _, _ = select.select([self._sock], [], [], timeout_s)
        return bool(readable)

    def recv(self) -> bytes:
        return self._sock.recv(65_536)


class BridgeServer:
    """Accepts platform connections and runs one thread per connection."""

    def __init__(self, config: BridgeServerConfig, handler: SessionHandler) -> None:
        self.config = config
        self.handler = handler
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._current: BridgeSession | None = None
        self._numbers = itertools.count(1)
        self.port = config.port

    @property
    def current(self) -> BridgeSession | None:
        s = self._current
        return s if s is not None and not s.closed else None

    def start(self) -> int:
        """Bind and listen (OSError if the port is taken); returns the bound port."""
        listener = socket.create_server((self.config.host, self.config.port), reuse_port=False)
        listener.settimeout(0.2)
        self._listener = listener
        self.port = listener.getsockname()[1]
        threading.Thread(target=self._accept_loop, name="nt8-accept", daemon=True).start()
        log.info(
            "bridge server listening on %s:%d (%s, TLS %s)",
            self.config.host,
            self.port,
            self.config.platform.value,
            "on" if self.config.ssl_context else "off",
        )
        return self.port

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
        session = self._current
        if session is not None:
            session.close("adapter stopping")

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._stopping.is_set():
                    log.exception("accept failed")
                return
            peer = f"{addr[0]}:{addr[1]}"
            threading.Thread(
                target=self._serve, args=(conn, peer), name=f"nt8-conn-{peer}", daemon=True
            ).start()

    # ---- one connection -------------------------------------------------------------------------

    def _serve(self, conn: socket.socket, peer: str) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(self.config.handshake_timeout_s)
        if self.config.ssl_context is not None:
            try:
                conn = self.config.ssl_context.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                log.warning("TLS handshake with %s failed: %s", peer, exc)
                conn.close()
                return
        conn.settimeout(_SEND_TIMEOUT_S)  # reads wait in select(); this bounds a stuck send
        session = BridgeSession(next(self._numbers), conn, peer)
        decoder = FrameDecoder()
        reason = "closed"
        opened = False
        try:
            opened = self._handshake(session, decoder)
            if opened:
                reason = self._read_loop(session, decoder)
        except SessionClosed as exc:
            reason = str(exc)
        except Exception as exc:  # a handler bug must not kill the listener; the platform reconnects
            log.exception("session #%d with %s failed", session.number, peer)
            reason = f"internal error: {exc!r}"
        finally:
            session.close(reason)
            if opened:
                with self._lock:
                    if self._current is session:
                        self._current = None
                log.info("session #%d with %s closed: %s", session.number, peer, session.close_reason)
                self.handler.on_close(session, session.close_reason)

    def _handshake(self, session: BridgeSession, decoder: FrameDecoder) -> bool:
        deadline = time.monotonic() + self.config.handshake_timeout_s
        first: BridgeMessage | None = None
        pending: list[BridgeMessage] = []
        while first is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not session.readable(remaining):
                log.warning(
                    "%s sent no hello within %.1fs; closing", session.peer, self.config.handshake_timeout_s
                )
                return False
            data = session.recv()
            if not data:
                return False
            try:
                pending = decoder.feed(data)
            except BridgeProtocolError as exc:
                pending = exc.decoded
                if not pending:
                    self._refuse_frame(session, exc)
                    return False
            if pending:
                first, pending = pending[0], pending[1:]
        if not isinstance(first, Hello):
            self._send_quiet(
                session,
                ErrorMessage(
                    code=BridgeErrorCode.NOT_AUTHENTICATED,
                    ref_seq=first.seq,
                    message=f"the first frame must be hello, got {first.TYPE}",
                ),
            )
            log.warning("%s opened with %s instead of hello; closing", session.peer, first.TYPE)
            return False
        problem = self._check_hello(first)
        if problem is not None:
            log.warning(
                "refusing hello from %s (%s %s): %s",
                session.peer,
                first.platform.value,
                first.platform_version,
                problem,
            )
            self._send_quiet(
                session,
                HelloAck(
                    accepted=False, reason=problem, heartbeat_interval_ms=self.config.heartbeat_interval_ms
                ),
            )
            return False
        session.hello = first
        session.send(HelloAck(accepted=True, heartbeat_interval_ms=self.config.heartbeat_interval_ms))
        with self._lock:
            previous, self._current = self._current, session
        if previous is not None and not previous.closed:
            previous.close(f"replaced by session #{session.number}")
        log.info(
            "session #%d: %s %s from %s, accounts %s",
            session.number,
            first.platform.value,
            first.platform_version,
            session.peer,
            first.accounts,
        )
        self.handler.on_open(session)
        for msg in pending:  # frames that arrived together with hello
            self.handler.on_message(session, msg)
        return True

    def _check_hello(self, hello: Hello) -> str | None:
        expected = self.config.auth_token.get_secret_value().encode()
        if not hmac.compare_digest(hello.auth_token.encode(), expected):
            return "bad auth token"
        if hello.protocol_version != PROTOCOL_VERSION:
            return f"protocol version {hello.protocol_version} not supported (adapter: {PROTOCOL_VERSION})"
        if hello.platform is not self.config.platform:
            return f"this adapter serves {self.config.platform.value}, not {hello.platform.value}"
        return self.handler.hello_problem(hello)

    def _read_loop(self, session: BridgeSession, decoder: FrameDecoder) -> str:
        interval = self.config.heartbeat_interval_ms / 1000
        tick = min(0.25, interval / 4)
        session.last_rx = time.monotonic()
        while not session.closed and not self._stopping.is_set():
            try:
                data = session.recv() if session.readable(tick) else None
            except (OSError, ValueError) as exc:
                return session.close_reason or f"read failed: {exc}"
            now = time.monotonic()
            if data == b"":
                return "closed by the platform"
            if data:
                session.last_rx = now
                if not self._deliver(session, decoder, data):
                    return session.close_reason
            if now - session.last_tx >= interval:
                session.send(BridgeHeartbeat(time_ns=time.time_ns()))
            if now - session.last_rx > 3 * interval:
                log.warning(
                    "session #%d: nothing from %s for 3 heartbeat intervals (%.1fs); dropping it",
                    session.number,
                    session.peer,
                    3 * interval,
                )
                return "peer silent for 3 heartbeat intervals"
        return session.close_reason or "adapter stopping"

    def _deliver(self, session: BridgeSession, decoder: FrameDecoder, data: bytes) -> bool:
        try:
            messages = decoder.feed(data)
        except BridgeProtocolError as exc:
            for msg in exc.decoded:
                self._dispatch(session, msg)
            self._refuse_frame(session, exc)
            return False
        for msg in messages:
            self._dispatch(session, msg)
        return True

    def _dispatch(self, session: BridgeSession, msg: BridgeMessage) -> None:
        if isinstance(msg, BridgeHeartbeat):
            return
        self.handler.on_message(session, msg)

    def _refuse_frame(self, session: BridgeSession, exc: BridgeProtocolError) -> None:
        log.error(
            "session #%d: bad frame from %s: %s (field %s); closing the connection, "
            "the platform will reconnect",
            session.number,
            session.peer,
            exc,
            exc.field,
        )
        self._send_quiet(session, ErrorMessage(code=BridgeErrorCode.BAD_FRAME, message=str(exc)))
        session.close(f"bad frame: {exc.kind.value}")

    @staticmethod
    def _send_quiet(session: BridgeSession, msg: BridgeMessage) -> None:
        with contextlib.suppress(SessionClosed):
            session.send(msg)


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.01) -> bool:
    """Poll `predicate` until true or `timeout_s` passes; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
    return True
