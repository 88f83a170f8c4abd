"""Requests to the add-on that wait for an answer: a submit for its first `order_update`, a query for its
`open_orders_snapshot`. The waiting side is the adapter's processor thread; answers arrive on the
dispatcher thread.

A waiter belongs to one session: when that session closes, every waiter on it wakes up unanswered, so
the caller turns it into an unknown outcome at once instead of sitting out its timeout. A submit is
answered only by proof that Bookmap has the order or that the add-on refused it
(`mapping.answers_submit`); the reports themselves go through the adapter base, which holds those of a
running submit and publishes them with its result.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from nexus_bookmap import addon_protocol as ap


@dataclass(slots=True)
class SubmitWaiter:
    session: int
    done: threading.Event = field(default_factory=threading.Event)
    answered: bool = False


@dataclass(slots=True)
class QueryWaiter:
    session: int
    done: threading.Event = field(default_factory=threading.Event)
    answer: ap.AddonOrdersSnapshot | None = None


class Waiters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._submits: dict[str, SubmitWaiter] = {}
        self._queries: dict[str, QueryWaiter] = {}
        self._ids = 0

    @contextmanager
    def submit(self, coid: str, session: int) -> Iterator[SubmitWaiter]:
        """Wait for the answer to `coid`'s order_submit inside the block."""
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

    def answered(self, coid: str) -> None:
        """The add-on answered `coid`'s submit (if one waits)."""
        with self._lock:
            waiter = self._submits.get(coid)
        if waiter is not None:
            waiter.answered = True
            waiter.done.set()

    def answer(self, snapshot: ap.AddonOrdersSnapshot) -> None:
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
