"""The adapter's view of the bridge: the current session, its sync state, requests and their answers.

Guarantees:
- After every handshake the link sends `open_orders_query` (the orders whose outcome is unknown and
  the last execution seen) and the market data subscriptions, and reports `ready` only once the
  answer has arrived and been handed to the adapter: nothing new is sent to a platform before the
  adapter knows what happened while they were apart.
- A request (`request`, `query`) waits a bounded time for its answer. A session that closes wakes
  every waiter at once with `LinkDown`, so an order in flight is an unknown outcome immediately,
  not after a timeout. `LinkDown` before anything was written means the request was never sent.
- Platform pushes (updates, executions, positions, ticks) go to the listener on the session's
  thread, in arrival order.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from nexus_nt8.server import BridgeServer, BridgeServerConfig, BridgeSession, SessionClosed
from nexus_protocol.bridge import (
    AccountSnapshot,
    BridgeMessage,
    BridgeTick,
    ErrorMessage,
    ExecutionUpdate,
    Hello,
    MdSubscribe,
    MdUnsubscribe,
    OpenOrdersQuery,
    OpenOrdersSnapshot,
    OrderUpdate,
    PositionSnapshot,
)

log = logging.getLogger(__name__)


class LinkDown(ConnectionError):
    """No session, or it closed while waiting. `sent` says whether the request left this process."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class LinkListener(Protocol):
    """What the link needs from the adapter."""

    def account_problem(self, accounts: list[str]) -> str | None: ...
    def sync_request(self) -> tuple[list[str], str | None, int | None]:
        """(unknown-outcome client order ids, since_execution_id, since_time_ns) for the handshake query."""

    def instruments(self) -> list[str]: ...
    def on_synced(self, snapshot: OpenOrdersSnapshot, since: tuple[str | None, int | None]) -> None: ...
    def on_order_update(self, msg: OrderUpdate) -> None: ...
    def on_execution(self, msg: ExecutionUpdate) -> None: ...
    def on_tick(self, msg: BridgeTick) -> None: ...


@dataclass(slots=True)
class _Waiter:
    match: Callable[[BridgeMessage], bool]
    session: BridgeSession
    event: threading.Event = field(default_factory=threading.Event)
    result: BridgeMessage | None = None
    seq: int = 0


class BridgeLink:
    def __init__(self, config: BridgeServerConfig, listener: LinkListener) -> None:
        self.listener = listener
        self.server = BridgeServer(config, self)
        self._lock = threading.Lock()
        self._waiters: list[_Waiter] = []
        self._synced: BridgeSession | None = None
        self._sync_ids: dict[int, tuple[str, tuple[str | None, int | None]]] = {}
        self._requests = itertools.count(1)
        self.positions: dict[str, dict[str, float]] = {}  # account -> instrument -> signed quantity
        self.accounts: dict[str, AccountSnapshot] = {}
        self.sessions_opened = 0
        self._md: tuple[int, frozenset[str]] = (0, frozenset())  # session number, its subscriptions

    @property
    def ready(self) -> bool:
        s = self._synced
        return s is not None and not s.closed

    def start(self) -> int:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    # ---- requests -------------------------------------------------------------------------------

    def request(
        self, msg: BridgeMessage, match: Callable[[BridgeMessage], bool], timeout_s: float
    ) -> BridgeMessage:
        """Send `msg` and wait for the first message `match` accepts (or an `error` naming its seq).
        Raises LinkDown (see `sent`) or TimeoutError (sent, no answer in time)."""
        with self._lock:
            session = self._synced
            if session is None or session.closed:
                raise LinkDown("the platform is not connected", sent=False)
            waiter = _Waiter(match, session)
            self._waiters.append(waiter)
            try:
                waiter.seq = session.send(msg)
            except SessionClosed as exc:
                self._waiters.remove(waiter)
                raise LinkDown(str(exc), sent=False) from exc
        if not waiter.event.wait(timeout_s):
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if waiter.result is None:
                raise TimeoutError(f"no answer to {msg.TYPE} within {timeout_s}s")
        if waiter.result is None:
            raise LinkDown(
                f"the connection closed before {msg.TYPE} was answered ({waiter.session.close_reason})",
                sent=True,
            )
        return waiter.result

    def query(
        self, client_order_ids: list[str], since: tuple[str | None, int | None], timeout_s: float
    ) -> OpenOrdersSnapshot:
        request_id = f"q{next(self._requests)}"
        msg = OpenOrdersQuery(
            request_id=request_id,
            accounts=[],
            client_order_ids=client_order_ids,
            since_execution_id=since[0],
            since_time_ns=since[1],
        )
        answer = self.request(
            msg, lambda m: isinstance(m, OpenOrdersSnapshot) and m.request_id == request_id, timeout_s
        )
        if isinstance(answer, ErrorMessage):
            raise TimeoutError(f"open_orders_query refused: {answer.code.value}: {answer.message}")
        assert isinstance(answer, OpenOrdersSnapshot)
        return answer

    def send(self, msg: BridgeMessage) -> None:
        """Fire and forget on the ready session (LinkDown if there is none)."""
        session = self._synced
        if session is None:
            raise LinkDown("the platform is not connected", sent=False)
        try:
            session.send(msg)
        except SessionClosed as exc:
            raise LinkDown(str(exc), sent=False) from exc

    # ---- SessionHandler -------------------------------------------------------------------------

    def hello_problem(self, hello: Hello) -> str | None:
        return self.listener.account_problem(hello.accounts)

    def on_open(self, session: BridgeSession) -> None:
        self.sessions_opened += 1
        ids, since_id, since_ns = self.listener.sync_request()
        request_id = f"sync{session.number}"
        self._sync_ids[session.number] = (request_id, (since_id, since_ns))
        session.send(
            OpenOrdersQuery(
                request_id=request_id,
                accounts=[],
                client_order_ids=ids,
                since_execution_id=since_id,
                since_time_ns=since_ns,
            )
        )
        instruments = self.listener.instruments()
        self._subscribe(session, instruments)
        log.info(
            "session #%d: asked for open orders (%d unsure ids, since %s) and %d instruments",
            session.number,
            len(ids),
            since_id,
            len(instruments),
        )

    def subscribe(self, instruments: list[str]) -> None:
        """Market data for exactly these instruments on the live session (changes only)."""
        session = self._synced
        if session is not None and not session.closed:
            with contextlib.suppress(SessionClosed):  # the next session subscribes afresh
                self._subscribe(session, instruments)

    def _subscribe(self, session: BridgeSession, instruments: list[str]) -> None:
        number, current = self._md
        if number != session.number:
            current = frozenset()
        wanted = frozenset(instruments)
        for instrument in sorted(wanted - current):
            session.send(MdSubscribe(instrument=instrument))
        for instrument in sorted(current - wanted):
            session.send(MdUnsubscribe(instrument=instrument))
        self._md = (session.number, wanted)

    def on_message(self, session: BridgeSession, msg: BridgeMessage) -> None:
        self._wake(session, msg)
        match msg:
            case OpenOrdersSnapshot() if self._sync_ids.get(session.number, ("",))[0] == msg.request_id:
                _, since = self._sync_ids.pop(session.number)
                self.listener.on_synced(msg, since)
                self._synced = session
                log.info(
                    "session #%d synced: %d orders, %d executions, %d unknown ids",
                    session.number,
                    len(msg.orders),
                    len(msg.executions),
                    len(msg.unknown_client_order_ids),
                )
            case OrderUpdate():
                self.listener.on_order_update(msg)
            case ExecutionUpdate():
                self.listener.on_execution(msg)
            case PositionSnapshot():
                self.positions[msg.account] = {p.instrument: float(p.quantity) for p in msg.positions}
            case AccountSnapshot():
                self.accounts[msg.account] = msg
            case BridgeTick():
                self.listener.on_tick(msg)
            case ErrorMessage():
                log.warning(
                    "session #%d: platform error %s: %s (ref seq %s, order %s)",
                    session.number,
                    msg.code.value,
                    msg.message,
                    msg.ref_seq,
                    msg.client_order_id,
                )
            case OpenOrdersSnapshot():
                pass  # an answer to `query`, handed over by _wake
            case _:
                log.warning("session #%d: unexpected %s from the platform", session.number, msg.TYPE)

    def on_close(self, session: BridgeSession, reason: str) -> None:
        self._sync_ids.pop(session.number, None)
        if self._synced is session:
            self._synced = None
        with self._lock:
            dropped = [w for w in self._waiters if w.session is session]
            self._waiters = [w for w in self._waiters if w.session is not session]
        for w in dropped:
            w.event.set()  # result None: LinkDown(sent=True)

    def _wake(self, session: BridgeSession, msg: BridgeMessage) -> None:
        with self._lock:
            for w in list(self._waiters):
                if w.session is not session:
                    continue
                by_seq = isinstance(msg, ErrorMessage) and msg.ref_seq is not None and msg.ref_seq == w.seq
                if by_seq or w.match(msg):
                    w.result = msg
                    self._waiters.remove(w)
                    w.event.set()
                    return
