"""Requests in flight on a DTC session and the messages that answer them.

DTC answers are matched by RequestID (open orders, fills, positions, accounts), by message type
(ENCODING_RESPONSE, LOGON_RESPONSE) or by ClientOrderID (the ORDER_UPDATEs a submit or a cancel
waits for). Guarantees:
- A waiter is registered before its request is written, so no answer can slip past it.
- A waiter registered on a closed connection fails at once (`NotSent`: nothing was written); one
  waiting when the connection closes fails with `ConnectionClosed`; one whose answer stops coming
  for the timeout (nothing at all, or no further part of a long answer) closes the connection (the
  session is suspect; the client reconnects and reconciles) and raises TimeoutError. No caller ever
  waits without bound.
- An answer that completed is returned even if the connection closed right after.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from nexus_sierra.dtc.codec import DtcMessage, Message
from nexus_sierra.dtc.connection import ConnectionClosed, DtcConnection, NotSent

K = TypeVar("K", int, str)
Done = Callable[[Message], bool]


class RequestRejected(Exception):
    """The server answered a request with its *_REJECT message."""


@dataclass(eq=False)
class Waiter:
    done: Done
    items: list[Message] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)
    complete: bool = False
    error: Exception | None = None
    last_seen: float = field(default_factory=time.monotonic)  # a long answer in many parts keeps it alive

    def add(self, msg: Message) -> None:
        self.items.append(msg)
        self.last_seen = time.monotonic()
        if self.done(msg):
            self.complete = True
            self.event.set()

    def fail(self, exc: Exception) -> None:
        if self.error is None:
            self.error = exc
        self.event.set()


class Waiters:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.lock = threading.Lock()
        self.requests: dict[int, Waiter] = {}  # by RequestID
        self.replies: dict[int, Waiter] = {}  # by message type
        self.orders: dict[str, Waiter] = {}  # by ClientOrderID, while a submit or a cancel waits

    def exchange(
        self, conn: DtcConnection, table: dict[K, Waiter], key: K, msg: DtcMessage, done: Done, *, what: str
    ) -> list[Message]:
        """Send `msg` and collect what answers it (routed to `table[key]`) until `done`."""
        waiter = Waiter(done)
        with self.lock:
            if conn.closed:
                raise NotSent(conn.reason or "closed")
            table[key] = waiter
        try:
            conn.send(msg)
            waiter.last_seen = time.monotonic()
            while not waiter.event.wait(self.timeout_s / 4):
                if time.monotonic() - waiter.last_seen > self.timeout_s:
                    conn.close(f"no answer to {what} for {self.timeout_s}s")
                    raise TimeoutError(f"no answer to {what} for {self.timeout_s}s")
        finally:
            with self.lock:
                if table.get(key) is waiter:
                    del table[key]
                items = list(waiter.items)
        if not waiter.complete and waiter.error is not None:
            raise waiter.error
        return items

    def route(self, table: dict[K, Waiter], key: K, msg: Message) -> bool:
        """Hand `msg` to whoever waits under `key`; False if nobody does."""
        with self.lock:
            waiter = table.get(key)
            if waiter is None:
                return False
            waiter.add(msg)
            return True

    def reject(self, request_id: int, reason: str) -> None:
        with self.lock:
            waiter = self.requests.get(request_id)
        if waiter is not None:
            waiter.fail(RequestRejected(reason))

    def fail_all(self, reason: str) -> None:
        with self.lock:
            waiters = [*self.requests.values(), *self.replies.values(), *self.orders.values()]
        for w in waiters:
            w.fail(ConnectionClosed(reason))
