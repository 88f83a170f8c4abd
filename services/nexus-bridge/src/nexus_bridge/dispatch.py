"""Callback delivery that never blocks the reader: a bounded queue and one worker per callback kind.

The reader only appends; the worker calls the user's function, one item at a time, in order. A queue
that may drop (market data) drops its *oldest* item when full and counts it: a late tick is worth
less than the latest. A queue that may not drop (executions) reports `full()`; the reader then stops
reading that stream until there is room, so nothing is lost (the entries wait in Redis). A callback
that raises is logged and counted; the worker goes on.

The worker is a task: it awaits a coroutine function, or runs a plain function in a thread
(`asyncio.to_thread`), so neither blocks the event loop (the threaded client's callbacks are plain
functions, run this way on its loop).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Dispatcher:
    """One callback kind: its bounded queue and the worker task that delivers it."""

    def __init__(self, name: str, callback: Callable[[Any], Any], *, maxsize: int, drop_oldest: bool) -> None:
        if maxsize < 1:
            raise ValueError("a callback queue holds at least one item")
        self.name = name
        self.maxsize = maxsize
        self.drop_oldest = drop_oldest
        self.items: deque[Any] = deque()
        self.delivered = 0
        self.dropped = 0
        self.errors = 0
        self.callback = callback
        # A coroutine function, or an object whose __call__ is one.
        self._is_coro = inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
            type(callback).__call__
        )
        self._wake = asyncio.Event()
        self._stopping = False
        self._drain = False
        self._task: asyncio.Task[None] | None = None

    def full(self) -> bool:
        return len(self.items) >= self.maxsize

    def stats(self) -> dict[str, int]:
        return {
            "queued": len(self.items),
            "delivered": self.delivered,
            "dropped": self.dropped,
            "errors": self.errors,
        }

    def start(self) -> None:
        """Start the worker task on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._work(), name=f"nexus-{self.name}")

    def put(self, item: Any) -> bool:
        """Queue the item for the worker; False only for a non-dropping queue that is full (the
        caller keeps the item and offers it again later)."""
        if self.full():
            if not self.drop_oldest:
                return False
            self.items.popleft()
            self.dropped += 1
        self.items.append(item)
        self._wake.set()
        return True

    async def stop(self, *, drain: bool, timeout_s: float) -> None:
        """Stop the worker; with `drain`, first deliver what is queued (within the timeout)."""
        self._stopping, self._drain = True, drain
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except TimeoutError:
                self._task.cancel()

    async def _work(self) -> None:
        while True:
            while not self.items and not self._stopping:
                self._wake.clear()
                await self._wake.wait()
            if self._stopping and (not self._drain or not self.items):
                return
            item = self.items.popleft()
            try:
                if self._is_coro:
                    await self.callback(item)
                else:
                    await asyncio.to_thread(self.callback, item)
                self.delivered += 1
            except Exception:
                self.errors += 1
                log.exception("%s callback failed; delivery goes on", self.name)
