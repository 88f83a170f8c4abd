"""Run the simulator server as a child process, for tests (this package's and the adapter's).

    with SimulatorProcess("brazil") as sim:
        conn = sim.connect()                      # rpyc.classic.connect, as mt5linux does
        conn.execute("import MetaTrader5 as mt5")
        ctl = sim.control(conn)                   # conn.modules.nexus_sim_control
        ctl.set_market_open(True)

The child binds port 0 on loopback and reports the real port on its first stdout line, so parallel
test runs never collide. Its stderr goes to `log_path` (or is discarded) and is shown when startup fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import rpyc


class SimulatorProcess:
    """A `python -m nexus_mt5.simulator` child process."""

    def __init__(self, profile: str = "global", *args: str, log_path: Path | None = None) -> None:
        self.profile = profile
        self.args = args
        self.log_path = log_path or Path(tempfile.mkstemp(prefix=f"mt5sim-{profile}-", suffix=".log")[1])
        self.proc: subprocess.Popen[str] | None = None
        self.host = "127.0.0.1"
        self.port = 0

    def __repr__(self) -> str:
        state = "running" if self.proc is not None and self.proc.poll() is None else "stopped"
        return f"SimulatorProcess({self.profile!r}, {self.host}:{self.port}, {state})"

    def start(self, timeout_s: float = 20.0) -> SimulatorProcess:
        cmd = [
            sys.executable,
            "-m",
            "nexus_mt5.simulator",
            "--port",
            "0",
            "--profile",
            self.profile,
            *self.args,
        ]
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()  # blocks until READY or the child dies
        if len(line) != 3 or line[0] != "READY":
            self.stop()
            raise RuntimeError(f"simulator did not start: {line!r}\n{self.log()}")
        self.host, self.port = line[1], int(line[2])
        return self

    def connect(self) -> Any:
        """A classic connection, as `mt5linux.MetaTrader5(host, port)` makes."""
        return rpyc.classic.connect(self.host, self.port)

    @staticmethod
    def control(conn: Any) -> Any:
        """The `nexus_sim_control` module of the server, through an existing connection."""
        return conn.modules.nexus_sim_control

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
