"""Service processes for tests: started as `python -m module` against the test's Redis and namespace,
SIGKILLed or stopped on demand, and all reaped at teardown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nexus_testing.helpers import REPO_ROOT


class ServiceProcess:
    """A service started as `python -m module`, with its stderr in a log file."""

    def __init__(
        self, name: str, module: str, env: dict[str, str], log_path: Path, args: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.module = module
        self.env = env
        self.args = args
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def sigkill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def terminate(self, timeout_s: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def restart(self) -> ServiceProcess:
        self.sigkill()
        return self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Services:
    """Starts service processes for one test and reaps them all at teardown."""

    def __init__(self, redis_url: str, namespace: str, tmp: Path) -> None:
        self.redis_url = redis_url
        self.namespace = namespace
        self.tmp = tmp
        self.started: list[ServiceProcess] = []
        self.defaults: dict[str, str] = {}  # settings of every service this test starts

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
        env.update(
            NX_REDIS_URL=self.redis_url,
            NX_NAMESPACE=self.namespace,
            NX_DATA_DIR=str(self.tmp / "data"),
            NX_CONFIG_DIR=str(REPO_ROOT / "deploy" / "config"),
            NX_BLOCK_MS="200",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.defaults)
        env.update(overrides)
        return env

    def start(self, module: str, *args: str, name: str | None = None, **env: str) -> ServiceProcess:
        name = name or f"{module.rsplit('.', 1)[-1]}-{len(self.started)}"
        env.setdefault("NX_CONSUMER", name)
        sp = ServiceProcess(name, module, self.env(**env), self.tmp / f"{name}.log", args).start()
        self.started.append(sp)
        return sp

    def stop_all(self) -> None:
        for sp in self.started:
            if sp.alive():
                sp.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + 10
        for sp in self.started:
            if sp.proc is not None:
                try:
                    sp.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    sp.sigkill()

    def logs(self) -> str:
        return "\n".join(f"===== {sp.name} =====\n{sp.log()[-4000:]}" for sp in self.started)
