"""A simulator's loop on a daemon thread of its own, until stopped."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Worker:
    """Runs `target` on a daemon thread from `start()`; `stopping` is the event `target` watches and
    `stop()` sets before waiting for it."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        self.target = target
        self.name = name
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.target, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
