"""What the adapter base holds in memory between the platform and Redis (thread-safe; any thread).

- `Outbox`: what the platform pushes (reports, executions) and events, on their way to Redis.
  A push for an order whose `submit` is still running is held and handed to that submit's result,
  after it; one that arrives after submit returned waits until that result is published: one
  policy for a report that arrives before submit returns, the same on every platform.
  What could not be published (Redis down) waits in a backlog, in order, and goes first next time.
- `AwaitingAck`: orders sent without an acknowledgement from the platform yet, each with a deadline.
  Past it (and after every reconnect) the base looks the order up; an order the platform never had
  is rejected with the reason, so every leg becomes final within a bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from nexus_mesh.adapter.reports import PlatformReport
from nexus_mesh.publish import Output

Pushed = PlatformReport | Output


class Outbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._submitting: dict[str, list[Pushed]] = {}  # coid -> pushes held while its submit runs
        self._backlog: list[Pushed] = []

    def hold(self, coid: str) -> None:
        """`coid`'s submit starts: its pushes wait for it."""
        with self._lock:
            self._submitting.setdefault(coid, [])

    def drain(self, coid: str) -> list[PlatformReport]:
        """What was pushed for `coid` so far, in arrival order; later pushes still wait."""
        with self._lock:
            held = self._submitting.get(coid)
            if held is None:
                return []
            self._submitting[coid] = []
        return [p for p in held if not isinstance(p, Output)]

    def release(self, coid: str) -> list[PlatformReport]:
        """`coid`'s answer is out: what was pushed for it since the last `drain`; no more waiting."""
        with self._lock:
            return [p for p in self._submitting.pop(coid, []) if not isinstance(p, Output)]

    def take(self, pushed: Iterable[Pushed] = ()) -> list[Pushed]:
        """Hold what belongs to a running submit; the rest, behind the backlog, to publish now."""
        with self._lock:
            for p in pushed:
                held = None if isinstance(p, Output) else self._submitting.get(p.client_order_id)
                (held if held is not None else self._backlog).append(p)
            out, self._backlog = self._backlog, []
            return out

    def put_back(self, pushed: list[Pushed]) -> None:
        """Publishing `pushed` failed: first in line next time."""
        with self._lock:
            self._backlog = pushed + self._backlog

    def __len__(self) -> int:
        return len(self._backlog)


class AwaitingAck:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._deadlines: dict[str, float] = {}

    def sent(self, coid: str, *, due_now: bool = False) -> None:
        with self._lock:
            self._deadlines[coid] = 0.0 if due_now else time.monotonic() + self.timeout_s

    def acknowledged(self, coid: str) -> bool:
        """Forget `coid`; True if it was awaiting its acknowledgement."""
        with self._lock:
            return self._deadlines.pop(coid, None) is not None

    def due(self, *, every: bool = False) -> list[str]:
        """Orders past their deadline (`every`: all of them, e.g. after a reconnect), re-armed."""
        now = time.monotonic()
        with self._lock:
            out = [c for c, t in self._deadlines.items() if every or t <= now]
            for coid in out:
                self._deadlines[coid] = now + self.timeout_s
            return out

    def __contains__(self, coid: object) -> bool:
        return coid in self._deadlines

    def __len__(self) -> int:
        return len(self._deadlines)
