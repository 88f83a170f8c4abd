"""One TCP connection to a DTC server in the binary encoding: framing, a reader thread, heartbeats.

Guarantees:
- Every byte from the server goes through one `FrameReader`. A framing or decode error closes the
  connection, logged with what was wrong: binary DTC has no resynchronisation marker, so the only
  safe continuation is a new connection (and a reconciliation, which the client does).
- Messages are handed to `dispatch` in arrival order, on the reader thread, never after `close`.
  An exception in `dispatch` closes the connection too (a message we cannot handle is a protocol
  violation), so one bad message can never kill the reader silently.
- Sends are serialised by one lock and bounded by `send_timeout_s`. A send that fails or times out
  closes the connection: a partly written frame would corrupt the server's view of the stream.
- After `start_heartbeats`, a HEARTBEAT goes out every interval, and the connection closes when no
  HEARTBEAT has come from the server for `dead_after_s` (a hung server or a half-open socket).
- `close(reason)` is idempotent and may be called from any thread; `on_closed(reason)` runs once.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Callable

from nexus_sierra.dtc.codec import DtcDecodeError, DtcHeartbeat, FrameReader, Message, encode_binary

log = logging.getLogger(__name__)
_POLL_S = 0.05  # how often the reader looks at the heartbeat clocks when nothing arrives


class ConnectionClosed(ConnectionError):
    """The DTC connection is closed (or closed while we waited); `reason` says why."""


class NotSent(ConnectionClosed):
    """The connection was already closed: not one byte of the message was written."""


class DtcConnection:
    def __init__(
        self,
        sock: socket.socket,
        *,
        dispatch: Callable[[DtcConnection, Message], None],
        peer: str,
        send_timeout_s: float,
        on_closed: Callable[[DtcConnection, str], None] | None = None,
    ) -> None:
        self._sock = sock
        self._dispatch = dispatch
        self._on_closed = on_closed
        self.peer = peer
        sock.settimeout(send_timeout_s)  # bounds sendall; reads wait in select, never in recv
        self._reader = FrameReader()
        self._send_lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._closed = threading.Event()
        self.reason: str | None = None
        self._hb_interval_s: float | None = None
        self._dead_after_s = 0.0
        self._last_hb_rx = time.monotonic()
        self._next_hb_tx = 0.0
        self.heartbeats_received = 0
        self.messages_received = 0
        self._thread = threading.Thread(target=self._read_loop, name=f"dtc-reader {peer}", daemon=True)

    def __repr__(self) -> str:
        state = f"closed: {self.reason}" if self.closed else "open"
        return (
            f"<DtcConnection {self.peer} {state} rx={self.messages_received} hb={self.heartbeats_received}>"
        )

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def start(self) -> None:
        self._thread.start()

    def start_heartbeats(self, interval_s: float, dead_after_s: float) -> None:
        self._last_hb_rx = time.monotonic()
        self._next_hb_tx = time.monotonic()
        self._dead_after_s = dead_after_s
        self._hb_interval_s = interval_s

    def send(self, msg: Message) -> None:
        frame = encode_binary(msg)
        with self._send_lock:
            if self.closed:
                raise NotSent(self.reason or "closed")
            try:
                self._sock.sendall(frame)
            except OSError as exc:
                self.close(f"send failed: {exc!r}")
                raise ConnectionClosed(self.reason or "send failed") from exc

    def close(self, reason: str) -> None:
        with self._close_lock:
            if self.closed:
                return
            self.reason = reason
            self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader; it closes the socket itself
        if not self._thread.is_alive():
            self._sock.close()
        if self._on_closed is not None:
            self._on_closed(self, reason)

    def wait_closed(self, timeout_s: float | None = None) -> bool:
        return self._closed.wait(timeout_s)

    def join(self, timeout_s: float = 2.0) -> None:
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    # ---- the reader thread -------------------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            while not self.closed:
                if not self._heartbeat_due():
                    break
                readable, _, _ = select.select([self._sock], [], [], _POLL_S)
                if not readable or self.closed:
                    continue
                data = self._sock.recv(65_536)
                if not data:
                    self.close("the server closed the connection")
                    break
                self._feed(data)
        except OSError as exc:
            self.close(f"socket error: {exc!r}")
        except Exception as exc:  # never let the reader die without closing: the client reconnects
            log.exception("DTC reader for %s failed", self.peer)
            self.close(f"reader failed: {exc!r}")
        finally:
            self._sock.close()

    def _heartbeat_due(self) -> bool:
        """Send ours when due; False (after closing) when the server's have stopped."""
        if self._hb_interval_s is None:
            return True
        now = time.monotonic()
        silent_s = now - self._last_hb_rx
        if silent_s > self._dead_after_s:
            log.error(
                "no HEARTBEAT from the DTC server %s for %.1fs (limit %.1fs): closing the connection",
                self.peer,
                silent_s,
                self._dead_after_s,
            )
            self.close(f"no heartbeat from the server for {silent_s:.1f}s")
            return False
        if now >= self._next_hb_tx:
            self._next_hb_tx = now + self._hb_interval_s
            try:
                self.send(DtcHeartbeat(current_date_time_s=int(time.time())))
            except ConnectionClosed:
                return False
        return True

    def _feed(self, data: bytes) -> None:
        try:
            messages = self._reader.feed(data)
        except DtcDecodeError as exc:
            self._decode_failed(exc)
            return
        for msg in messages:
            if self.closed:
                return
            self.messages_received += 1
            if isinstance(msg, DtcHeartbeat):
                self.heartbeats_received += 1
                self._last_hb_rx = time.monotonic()
                continue
            try:
                self._dispatch(self, msg)
            except Exception as exc:
                log.exception("DTC message from %s could not be handled: %r", self.peer, msg)
                self.close(f"could not handle {type(msg).__name__}: {exc!r}")
                return
        try:
            self._reader.feed(b"")  # raises an error the reader held back while handing over messages
        except DtcDecodeError as exc:
            self._decode_failed(exc)

    def _decode_failed(self, exc: DtcDecodeError) -> None:
        log.error(
            "DTC decode error from the server %s: %s (value %r, message type %s); closing the "
            "connection: a binary DTC stream cannot resynchronise. Will reconnect and reconcile.",
            self.peer,
            exc,
            exc.value,
            exc.message_type,
        )
        self.close(f"decode error: {exc}")
