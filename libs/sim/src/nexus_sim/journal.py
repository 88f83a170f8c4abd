"""What a simulated platform received and executed, one JSON line per fact, for a history checker.

A platform keeps its own record of every order it was sent and every execution it made; a chaos test
reads it to judge the gateway against the platform's word (tests/chaos/storm). The matching engine
calls its observers (`EngineObserver`) at three points, with no I/O of its own:
- `received`: an order reached the venue (a request a `before_submit` fault ate never did), before the
  venue acts on it; one the venue's duplicate check refuses is recorded too, as a duplicate;
- `rejected`: the venue refused an order on arrival (a requote, a reject, a duplicate): it was never
  working, so the same client order id sent again (MT5 re-sends a requoted request) is no duplicate;
- `filled`: one execution (a FILL report).

`Journal` writes them to a file, a line each, flushed per line so a reader sees every fact the process
made even if it is killed. A simulator attaches one when NX_SIM_JOURNAL names the file
(`attach_from_env`); without it nothing is written.

    {"kind": "order", "ts_ns": ..., "client_order_id": "01J...n80", "symbol": "NQH6", "side": "buy",
     "quantity": 1.0, "order_type": "market", "account": "Sim101", "duplicate": false}
    {"kind": "rejected", "ts_ns": ..., "client_order_id": "01J...mg0", "reason": "requote"}
    {"kind": "fill", "ts_ns": ..., "client_order_id": "01J...n80", "exec_id": "17", "symbol": "NQH6",
     "side": "buy", "qty": 1.0, "price": 21000.25, "account": "Sim101"}
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TextIO

from nexus_sim.model import Report, SimOrder

ENV = "NX_SIM_JOURNAL"


class EngineObserver(Protocol):
    def received(self, order: SimOrder, *, duplicate: bool) -> None: ...

    def rejected(self, report: Report) -> None: ...

    def filled(self, report: Report) -> None: ...


class _Observed(Protocol):
    observers: list[EngineObserver]


class Journal:
    """An `EngineObserver` that appends JSON lines to `path` (thread-safe; one line per write).
    `name_of` gives the platform's own name of an order from the engine's client id (MT5 has no client
    order ids: its simulator names orders by their comment)."""

    def __init__(self, path: Path | str, name_of: Callable[[str], str] | None = None) -> None:
        self.path = Path(path)
        self._name = name_of or (lambda cid: cid)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def received(self, order: SimOrder, *, duplicate: bool) -> None:
        self._write(
            kind="order",
            ts_ns=time.time_ns(),
            client_order_id=self._name(order.client_order_id),
            symbol=order.symbol,
            side=order.side.value,
            quantity=order.quantity,
            order_type=order.order_type.value,
            account=order.account,
            duplicate=duplicate,
        )

    def rejected(self, report: Report) -> None:
        reason = report.reason.value if report.reason is not None else ""
        self._write(kind="rejected", ts_ns=report.ts_ns, client_order_id=self._name(report.client_order_id),
                    reason=reason)  # fmt: skip

    def filled(self, report: Report) -> None:
        self._write(
            kind="fill",
            ts_ns=report.ts_ns,
            client_order_id=self._name(report.client_order_id),
            exec_id=report.exec_id,
            symbol=report.symbol,
            side=report.side.value,
            qty=report.last_qty,
            price=report.last_price,
            account=report.account,
        )

    def _write(self, **fields: Any) -> None:
        line = json.dumps(fields, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def attach_from_env(engine: _Observed, name_of: Callable[[str], str] | None = None) -> Journal | None:
    """A `Journal` on the engine when NX_SIM_JOURNAL names a file, else None."""
    path = os.environ.get(ENV)
    if not path:
        return None
    journal = Journal(path, name_of)
    engine.observers.append(journal)
    return journal


def read_journal(path: Path | str) -> Iterator[dict[str, Any]]:
    """The facts of a journal, oldest first (a line cut short by a kill is skipped)."""
    p = Path(path)
    if not p.exists():
        return
    with p.open(encoding="utf-8") as f:
        for line in f:
            if line.endswith("\n"):
                yield json.loads(line)
