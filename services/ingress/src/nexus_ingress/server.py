"""The ingress process: the HTTP server (uvicorn, in the main thread) and the execution recorder
(a StreamProcessor on nx:executions, in a thread), built from settings and config files.

Start: config files and tokens are read first (a bad one exits 2 naming it), the recorder's consumer
group is created before the port opens (so no execution of an accepted signal is missed), then the
socket is bound and its address logged. SIGTERM: uvicorn stops accepting, finishes the requests in
hand, and the recorder finishes its batch; the process exits 0. If the recorder dies, the server
stops too, so a supervisor restarts the whole service instead of serving stale executions.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import redis
import uvicorn

from nexus_ingress.app import create_app
from nexus_ingress.config import IngressSettings, load_config
from nexus_ingress.service import ExecutionRecorder, Ingress
from nexus_ingress.sources import load_sources
from nexus_ingress.store import Store
from nexus_mesh.config_files import load_symbols
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Publisher

log = logging.getLogger(__name__)


class IngressService:
    def __init__(self, settings: IngressSettings, client: redis.Redis) -> None:
        self.settings = settings
        names = settings.names
        store = Store(client, names, ttl_ms=settings.dedupe_ttl_ms)
        self.sources = load_sources(settings)
        self.ingress = Ingress(
            settings,
            load_config(settings),
            load_symbols(settings.config_dir),
            store,
            Publisher(client, dedupe_ttl_ms=settings.dedupe_ttl_ms),
            bridge_alive=lambda: bool(client.exists(names.control("bridge"))),
        )
        self.recorder = ExecutionRecorder(store)
        self.processor = StreamProcessor(
            settings,
            [Input(names.executions, self.recorder.handle, start_id="$", trim=False)],
            client=client,
            heartbeat_detail=self.detail,
        )
        app = create_app(self.ingress, self.sources, workers=settings.ingress_workers)
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                ssl_certfile=str(settings.ingress_tls_cert_file) if settings.tls else None,
                ssl_keyfile=str(settings.ingress_tls_key_file) if settings.tls else None,
                log_config=None,
                server_header=False,
                timeout_graceful_shutdown=10,
                lifespan="off",
            )
        )
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<IngressService {self.ingress!r} kept={self.recorder.kept}>"

    def detail(self) -> dict[str, Any]:
        return {**self.ingress.counters, "executions_kept": self.recorder.kept, "sources": self.sources.names}

    def _record(self) -> None:
        try:
            self.processor.run()
        except Exception:
            log.exception("the execution recorder stopped: stopping the ingress")
            self.server.should_exit = True

    def bind(self) -> socket.socket:
        s = self.settings
        family = socket.AF_INET6 if ":" in s.ingress_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((s.ingress_host, s.ingress_port))
        return sock

    def run(self) -> None:
        self.processor.setup()  # the group exists before the first signal is accepted
        sock = self.bind()
        host, port = sock.getsockname()[:2]
        scheme = "https" if self.settings.tls else "http"
        log.info("listening on %s://%s:%d (sources: %s)", scheme, host, port, ", ".join(self.sources.names))
        self._thread = threading.Thread(target=self._record, name="execution-recorder", daemon=True)
        self._thread.start()
        try:
            self.server.run(sockets=[sock])
        finally:
            self.processor.stop()
            self._thread.join(timeout=10)
            sock.close()
            log.info("stopped: %r", self)

    def stop(self) -> None:
        self.server.should_exit = True
        self.processor.stop()


def build(settings: IngressSettings, client: redis.Redis) -> IngressService:
    return IngressService(settings, client)
