"""The simulated terminal served the way mt5linux serves a real one: a plain rpyc *classic* server.

The mt5linux server is rpyc's classic `SlaveService` in a (Windows) Python that has the MetaTrader5
package; its client runs `conn.execute("import MetaTrader5 as mt5")` and then `conn.eval("mt5.xxx(...)")`.
This server is the same service in a Python whose `sys.modules["MetaTrader5"]` is the simulator, so an
adapter's remote path runs unchanged against it. The control surface is the module `nexus_sim_control`
in the same process.

SECURITY: a classic rpyc server executes ANY code a client sends (that is how mt5linux works). This
server binds to loopback only and refuses any other address unless explicitly forced; never expose it,
and put a real terminal's mt5linux server behind rpyc's SSL authenticator or an SSH tunnel.

Connection drops: each client is served in its own thread, which `on_connect` records; when an armed
disconnect fires inside order_send, `drop_current_connection` shuts that client's socket before the
answer is written, so the client's call fails with EOFError while the order stays placed.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from typing import Any

from rpyc.core import SlaveService
from rpyc.utils.server import ThreadedServer

from nexus_mesh.connection import is_loopback
from nexus_mt5.simulator.control import Control
from nexus_mt5.simulator.module import install
from nexus_mt5.simulator.terminal import Terminal

log = logging.getLogger("nexus_mt5.simulator")

_current = threading.local()


class SimulatorService(SlaveService):  # type: ignore[misc]
    """rpyc's classic SlaveService, remembering which connection the serving thread belongs to."""

    __slots__ = ()

    def on_connect(self, conn: Any) -> None:
        super().on_connect(conn)
        _current.conn = conn


def drop_current_connection() -> None:
    """Shut the socket of the client whose request this thread is serving (no-op outside a request)."""
    conn = getattr(_current, "conn", None)
    if conn is None:
        return
    with contextlib.suppress(AttributeError, OSError):
        conn._channel.stream.sock.shutdown(socket.SHUT_RDWR)
    log.warning("dropped the client connection after order_send (injected fault)")


class QuoteTicker(threading.Thread):
    """Moves the market every `interval_s` (a live-looking terminal); off unless asked for."""

    def __init__(self, terminal: Terminal, interval_s: float) -> None:
        super().__init__(name="mt5-sim-ticker", daemon=True)
        self.terminal = terminal
        self.interval_s = interval_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            with self.terminal.lock:
                self.terminal.venue.step()

    def stop(self) -> None:
        self.stopped.set()


class SimulatorServer:
    """A classic rpyc server in this process serving `terminal` as `MetaTrader5`."""

    def __init__(
        self,
        terminal: Terminal,
        *,
        host: str = "127.0.0.1",
        port: int = 18812,
        tick_ms: float = 0.0,
        allow_non_loopback: bool = False,
    ) -> None:
        if not is_loopback(host) and not allow_non_loopback:
            raise ValueError(f"refusing to bind a classic rpyc server (runs any code) to {host!r}")
        self.terminal = terminal
        self.control: Control = install(terminal)
        terminal.on_drop = drop_current_connection
        self.ticker = QuoteTicker(terminal, tick_ms / 1000) if tick_ms > 0 else None
        self._server = ThreadedServer(
            SimulatorService,
            hostname=host,
            port=port,
            protocol_config={"sync_request_timeout": 60},
            logger=log,
        )
        # Listen now, not in serve_forever: whoever reads host/port (the READY line) may connect at once.
        # rpyc's start() skips its own _listen() when the server is already active.
        self._server._listen()
        self.host: str = self._server.host
        self.port: int = self._server.port
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"SimulatorServer({self.host}:{self.port}, {self.terminal!r})"

    def serve_forever(self) -> None:
        if self.ticker is not None:
            self.ticker.start()
        self._server.start()

    def start_in_thread(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self.serve_forever, name="mt5-sim-server", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
