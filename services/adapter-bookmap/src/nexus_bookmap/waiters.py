"""Requests to the add-on that wait for an answer: a submit for its first `order_update`, a query for its
`open_orders_snapshot`. The waiting side is the adapter's processor thread; answers arrive on the
dispatcher thread.

A waiter belongs to one session: when that session closes, every waiter on it wakes up unanswered, so
the caller turns it into an unknown outcome at once instead of sitting out its timeout. While a submit
waits, the reports for its order are kept on the waiter and returned by `submit`, so the base publishes
them after it recorded the send; reports that arrive later go out as they come.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from nexus_bookmap import addon_protocol as ap
from nexus_mesh.adapter import VenueReport


@dataclass(slots=True)
class SubmitWaiter:
    session: int
    done: threading.Event = field(default_factory=threading.Event)
    answered: bool = False
    held: list[VenueReport] = field(default_factory=list)


@dataclass(slots=True)
class QueryWaiter:
    session: int
    done: threading.Event = field(default_factory=threading.Event)
    answer: ap.OpenOrdersSnapshot | None = None


class Waiters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._submits: dict[str, SubmitWaiter] = {}
        self._queries: dict[str, QueryWaiter] = {}
        self._ids = 0

    @contextmanager
    def submit(self, coid: str, session: int) -> Iterator[SubmitWaiter]:
        """Wait for `coid`'s first order_update inside the block; its held reports stay on the waiter."""
        waiter = SubmitWaiter(session=session)
        with self._lock:
            self._submits[coid] = waiter
        try:
            yield waiter
        finally:
            with self._lock:
                self._submits.pop(coid, None)

    @contextmanager
    def query(self, session: int) -> Iterator[tuple[str, QueryWaiter]]:
        """A fresh request id and the waiter its snapshot will wake."""
        with self._lock:
            self._ids += 1
            request_id = f"q{self._ids}"
            waiter = self._queries[request_id] = QueryWaiter(session=session)
        try:
            yield request_id, waiter
        finally:
            with self._lock:
                self._queries.pop(request_id, None)

    def deliver(self, coid: str, reports: list[VenueReport], *, answered: bool) -> bool:
        """Keep `reports` for a waiting submit (True), or say nobody waits for them (False)."""
        with self._lock:
            waiter = self._submits.get(coid)
            if waiter is None:
                return False
            waiter.held.extend(reports)
            if answered:
                waiter.answered = True
                waiter.done.set()
            return True

    def answer(self, snapshot: ap.OpenOrdersSnapshot) -> None:
        with self._lock:
            waiter = self._queries.get(snapshot.request_id)
        if waiter is not None:
            waiter.answer = snapshot
            waiter.done.set()

    def session_closed(self, session: int) -> None:
        with self._lock:
            waiting: list[SubmitWaiter | QueryWaiter] = [*self._submits.values(), *self._queries.values()]
        for waiter in waiting:
            if waiter.session == session:
                waiter.done.set()
