"""The ingress for tests: start it as its own process (`python -m nexus_ingress`, never imported
here) with a token per source and wait until it serves; the bridge's status key for tests that run
no bridge."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import redis

from nexus_mesh.embedded import free_port
from nexus_protocol.streams import Names
from nexus_testing.helpers import wait_for
from nexus_testing.processes import ServiceProcess, Services


def bridge_alive(client: redis.Redis, names: Names, alive: bool = True) -> None:
    """The bridge's status key, as a running nexus-bridge keeps it (for tests that run no bridge)."""
    if alive:
        client.set(names.control("bridge"), b"alive", px=600_000)
    else:
        client.delete(names.control("bridge"))


def token_for(source: str) -> str:
    return f"{source}-test-token-{'x' * 24}"


@dataclass
class RunningIngress:
    proc: ServiceProcess
    url: str
    tokens: dict[str, str] = field(default_factory=dict)
    cafile: str | None = None

    def auth(self, source: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[source]}"}

    def serving(self) -> bool:
        ctx = ssl.create_default_context(cafile=self.cafile) if self.cafile else None
        try:
            with urllib.request.urlopen(f"{self.url}/openapi.json", timeout=2, context=ctx) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def restart(self, timeout_s: float = 30) -> RunningIngress:
        self.proc.restart()
        wait_for(self.serving, timeout_s=timeout_s, interval_s=0.1, what="the ingress to serve again")
        return self


def start_ingress(
    services: Services,
    sources: tuple[str, ...] = ("tradingview", "algo"),
    *,
    name: str = "ingress",
    cafile: str | None = None,
    timeout_s: float = 30,
    **env: str,
) -> RunningIngress:
    """The ingress on a free loopback port with a test token per source; `env` adds NX_ settings."""
    port = free_port()
    tokens = {s: token_for(s) for s in sources}
    env.setdefault("NX_INGRESS_TOKENS", ",".join(f"{s}={t}" for s, t in tokens.items()))
    proc = services.start("nexus_ingress", name=name, NX_INGRESS_PORT=str(port), **env)
    scheme = "https" if "NX_INGRESS_TLS_CERT_FILE" in env else "http"
    running = RunningIngress(proc, f"{scheme}://127.0.0.1:{port}", tokens, cafile)

    def up() -> bool:
        assert proc.alive(), f"the ingress exited:\n{proc.log()[-3000:]}"
        return running.serving()

    wait_for(up, timeout_s=timeout_s, interval_s=0.1, what="the ingress to serve")
    return running
