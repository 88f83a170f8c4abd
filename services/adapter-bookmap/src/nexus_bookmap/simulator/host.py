"""A simulated Bookmap host: the TCP side of Bookmap's Python add-on API, so real add-on scripts run on
the real `bookmap` package against nexus_sim instead of a running Bookmap.

Like Bookmap (`ExternalProcessInstance`, `LocalTcpSocketServer`, `RpcServerAddon`): listen on a local
port, start the script as `python -X utf8 SCRIPT PORT` (or let an already-started script connect), send
SERVER_INIT on accept, then INSTRUMENT_INFO for one alias at a time, each after the previous alias's
INITIALIZATION_FINISHED. From then on the venue (`venue.BookmapVenue`) answers requests and a ticker
thread steps the market every `tick_interval_s`.

Threads: an accept thread, a reader per connection and the ticker; every venue call and every send
happens under one lock, so lines reach the add-on in the order the venue produced them. Only one add-on
connection is live at a time; a new one replaces the old (Bookmap runs one process per add-on). When the
venue asks for a drop (fault injection) the socket is closed right after the lines that were to go out.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from nexus_bookmap.simulator import wire
from nexus_bookmap.simulator.venue import BookmapVenue
from nexus_bookmap.simulator.wire import T

log = logging.getLogger("nexus_bookmap.simulator")

_SEND_TIMEOUT_S = 5.0


class BookmapHost:
    """Listens for the add-on, drives the venue, optionally owns the add-on process."""

    def __init__(
        self,
        venue: BookmapVenue,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_interval_s: float = 0.05,
        python: str = sys.executable,
    ) -> None:
        self.venue = venue
        self.tick_interval_s = tick_interval_s
        self.python = python
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._server = socket.create_server((host, port))
        self._conn: socket.socket | None = None
        self._pending_aliases: list[str] = []
        self._initialized: set[str] = set()
        self._changed = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self.addon_log: deque[str] = deque(maxlen=2000)  # the add-on's stdout and stderr
        self.received: deque[str] = deque(maxlen=10_000)  # every line the add-on sent
        self.connections = 0

    def __repr__(self) -> str:
        return (
            f"BookmapHost(port={self.port}, connected={self.connected}, connections={self.connections}, "
            f"initialized={sorted(self._initialized)}, {self.venue!r})"
        )

    @property
    def port(self) -> int:
        return int(self._server.getsockname()[1])

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def addon_process(self) -> subprocess.Popen[bytes] | None:
        return self._proc

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> BookmapHost:
        for target, name in ((self._accept_loop, "bm-accept"), (self._tick_loop, "bm-ticker")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("simulated Bookmap listening on %s", self.port)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.stop_addon()
        with self._lock:
            self._close_conn()
        self._server.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> BookmapHost:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def launch_addon(
        self, script: str | Path, *, env: Mapping[str, str] | None = None, cwd: str | Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `script` as Bookmap does: `python -X utf8 SCRIPT PORT`, output captured in `addon_log`."""
        self.stop_addon()
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        args = [self.python, "-X", "utf8", str(script), str(self.port)]
        proc = subprocess.Popen(
            args,
            env=full_env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self._proc = proc
        threading.Thread(target=self._pump, args=(proc,), name="bm-addon-log", daemon=True).start()
        return proc

    def stop_addon(self) -> int | None:
        """Kill the add-on process (Bookmap uses destroyForcibly) and return its exit code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        return proc.wait(timeout=10)

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with proc.stdout:
            for raw in proc.stdout:
                text = raw.decode("utf-8", "replace").rstrip()
                self.addon_log.append(text)
                log.debug("add-on: %s", text)

    # -- waiting (for tests and scripts) ----------------------------------------------------------------

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.1))
        return True

    def wait_initialized(self, timeout_s: float = 10.0) -> bool:
        """True when the current add-on connection finished initializing every alias."""
        return self.wait_until(
            lambda: self.connected and self._initialized == set(self.venue.aliases), timeout_s
        )

    # -- control ---------------------------------------------------------------------------------------

    def drop_connection(self) -> None:
        """Close the add-on's socket now, as if Bookmap went away."""
        with self._lock:
            self._close_conn()

    def drop_after_accept(self, times: int = 1) -> None:
        """Let the next accepted order's WORKING update out, then drop before anything else (its fill)."""
        with self._lock:
            self.venue.drop_after_accept += times

    def set_price(self, alias: str, price: float) -> None:
        with self._lock:
            self.venue.set_price(alias, price)

    def pause(self) -> None:
        """Stop stepping the market (requests are still answered)."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    def step(self) -> None:
        """One market and matching step now (also works while paused)."""
        with self._lock:
            self._send(self.venue.tick())

    # -- threads ---------------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        self._server.settimeout(0.1)  # closing a socket does not wake a blocked accept(): poll
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(_SEND_TIMEOUT_S)
            with self._lock:
                self._close_conn()
                self._conn = conn
                self.connections += 1
                self._initialized.clear()
                self.venue.reset_connection()
                self._pending_aliases = list(self.venue.aliases)
                self._send([wire.server_init()])
                self._next_instrument()
            threading.Thread(target=self._read_loop, args=(conn,), name="bm-reader", daemon=True).start()

    def _read_loop(self, conn: socket.socket) -> None:
        buffer = b""
        try:
            while True:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:  # the timeout is for sends; a quiet add-on is fine
                    continue
                if not chunk:
                    break
                *raw_lines, buffer = (buffer + chunk).split(b"\n")
                for raw in raw_lines:
                    text = raw.decode("utf-8").rstrip("\r")
                    self.received.append(text)
                    with self._lock:
                        if self._conn is not conn:
                            return
                        self._on_line(text)
        except OSError:
            pass
        finally:
            with self._lock:
                if self._conn is conn:
                    log.info("add-on disconnected")
                    self._close_conn()

    def _on_line(self, text: str) -> None:
        try:
            msg = wire.parse(text)
        except wire.WireError as exc:
            log.warning("%s", exc)  # Bookmap logs a failed conversion and carries on
            return
        if isinstance(msg, wire.OtherLine):
            if msg.type == T.INITIALIZATION_FINISHED and msg.fields:
                self._initialized.add(msg.fields[0])
                self._next_instrument()
            elif msg.type == T.CLIENT_OFF:
                self._send([str(int(T.SERVER_OFF))])
            self._changed.notify_all()
            return
        self._send(self.venue.on_line(text))
        self._changed.notify_all()

    def _next_instrument(self) -> None:
        if self._pending_aliases:
            self._send([self.venue.instrument_info(self._pending_aliases.pop(0))])

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_interval_s):
            if self._paused.is_set():
                continue
            with self._lock:
                lines = self.venue.tick()
                self._send(lines)
                self._changed.notify_all()

    # -- sending (caller holds the lock) ---------------------------------------------------------------

    def _send(self, lines: Sequence[str]) -> None:
        conn = self._conn
        if conn is not None and lines:
            try:
                conn.sendall("".join(f"{text}\n" for text in lines).encode("utf-8"))
            except OSError as exc:
                log.info("send to the add-on failed: %s", exc)
                self._close_conn()
        if self.venue.take_drop():
            self._close_conn()

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
            self._initialized.clear()
            self.venue.reset_connection()
            self._changed.notify_all()
