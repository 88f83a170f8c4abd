"""Driving the DTC simulator from tests: in-process (`RunningSimulator`) or in another process
(`ControlClient` to the control port of `python -m nexus_sierra.simulator --control-port N`).

Both expose the same typed `SimulatorControl` methods, so a test reads the same either way:

    sim.drop_after_accept()          # next order: accepted, then the connection drops before its fill
    sim.drop_before_ack()            # next order: processed, connection dropped before any answer
    sim.reject_next(text="no margin")
    sim.heartbeats("missing")        # or "slow" (factor=...), back with "normal"
    sim.freeze(True)                 # the server goes silent (socket stays open)
    sim.inject(b"\\x02\\x00\\x03\\x00")  # raw bytes into every session
    sim.drop_connections(); sim.set_price("NQH25", 20900.0); sim.clear_faults(); sim.stats()

The control port speaks one JSON object per line: {"op": ..., "args": {...}} -> {"ok": true,
"result": ...} or {"ok": false, "error": ...}. It listens on 127.0.0.1 unless told otherwise (the
simulator's own address in a compose network of simulators).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from nexus_sierra.simulator.server import DtcSimulator
from nexus_sierra.simulator.venue import SimulatedTradingService

T = TypeVar("T")


class SimulatorControl:
    """The control operations; subclasses implement `call`."""

    def call(self, op: str, **args: Any) -> Any:
        raise NotImplementedError

    def drop_before_ack(self, count: int = 1) -> None:
        self.call("drop_before_ack", count=count)

    def drop_after_accept(self, count: int = 1) -> None:
        self.call("drop_after_accept", count=count)

    def reject_next(self, count: int = 1, text: str = "injected reject") -> None:
        self.call("reject_next", count=count, text=text)

    def heartbeats(self, mode: str, factor: float = 4.0) -> None:
        self.call("heartbeats", mode=mode, factor=factor)

    def freeze(self, on: bool = True) -> None:
        self.call("freeze", on=on)

    def inject(self, data: bytes) -> None:
        self.call("inject", data=data.hex())

    def drop_connections(self) -> None:
        self.call("drop_connections")

    def set_price(self, symbol: str, price: float) -> None:
        self.call("set_price", symbol=symbol, price=price)

    def clear_faults(self) -> None:
        self.call("clear_faults")

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("stats")
        return result

    def submits(self, client_order_id: str) -> int:
        """How many SUBMIT_NEW_SINGLE_ORDER the simulator received with this ClientOrderID."""
        return int(self.stats()["submits"].get(client_order_id, 0))

    def fills_of(self, client_order_id: str) -> list[dict[str, Any]]:
        return [f for f in self.stats()["fills"] if f["client_order_id"] == client_order_id]


async def serve_control(sim: DtcSimulator, port: int, host: str = "127.0.0.1") -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    req = json.loads(line)
                    reply = {"ok": True, "result": sim.control(str(req["op"]), dict(req.get("args", {})))}
                except Exception as exc:
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


class ControlClient(SimulatorControl):
    """The control port of a simulator process."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout_s: float = 5.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout_s)
        self._file = self._sock.makefile("rwb")

    def call(self, op: str, **args: Any) -> Any:
        self._file.write(json.dumps({"op": op, "args": args}).encode() + b"\n")
        self._file.flush()
        reply = json.loads(self._file.readline())
        if not reply["ok"]:
            raise RuntimeError(f"simulator control {op}: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class RunningSimulator(SimulatorControl):
    """A simulator on its own event loop in a background thread, listening on `port`."""

    def __init__(
        self,
        venue: SimulatedTradingService | None = None,
        *,
        port: int = 0,
        md_interval_s: float = 0.1,
        control_port: int | None = None,
        username: str = "",
        password: str = "",
    ) -> None:
        self.sim = DtcSimulator(
            venue or SimulatedTradingService(),
            md_interval_s=md_interval_s,
            username=username,
            password=password,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dtc-simulator", daemon=True)
        self._thread.start()
        self.port = self._run(self.sim.start(port=port))
        self._control: asyncio.Server | None = None
        if control_port is not None:
            self._control = self._run(serve_control(self.sim, control_port))

    @property
    def venue(self) -> SimulatedTradingService:
        return self.sim.venue

    def _run(self, coro: Awaitable[T]) -> T:
        async def wrap() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrap(), self._loop).result(10)

    def on_loop(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the simulator's loop (its state is single-threaded) and return its result."""
        fut: Future[T] = Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return fut.result(10)

    def call(self, op: str, **args: Any) -> Any:
        return self.on_loop(lambda: self.sim.control(op, args))

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
        self._run(self.sim.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
