"""The order flow of the adapter base: effectively-once orders, every report published, every leg final.

For each order on nx:orders:{venue} (`_on_order`):
- The intent is recorded before anything is sent (`intents`). On redelivery or replay the platform is
  asked for the order by client order id before anything else (`_resume`), and it is sent only if the
  platform has never seen it.
- A timeout or a dropped link during a send is an *unknown outcome*: the intent is marked unknown and
  resolved by looking the order up once the link is back, never by sending again blindly.
- An order the platform took without acknowledging it is tracked (`pending.AwaitingAck`) until a report
  acknowledges it; the periodic work looks it up past its deadline. Not found: rejected with the reason.
- A report the platform pushes while the order's submit runs is published with the submit's result,
  after it (`pending.Outbox`); what cannot reach Redis is kept and retried in order.
- Reports become `Fill`s on nx:fills:raw with ids derived from the venue's execution ids; bare
  executions are counted in the execution ledger first (`ledger`), which gives them cumulative figures.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import redis

from nexus_mesh import metrics
from nexus_mesh.adapter.intents import IntentState, IntentStore
from nexus_mesh.adapter.ledger import ExecutionLedger, report
from nexus_mesh.adapter.pending import AwaitingAck, Outbox, Pushed
from nexus_mesh.adapter.reports import PlatformReport, VenueExecution, VenueReport, rejected
from nexus_mesh.adapter.settings import AdapterSettings
from nexus_mesh.config_files import load_symbols
from nexus_mesh.context import Context
from nexus_mesh.publish import Output, Publisher
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderStatus, Severity
from nexus_protocol.errors import UnknownOutcome, VenueError
from nexus_protocol.ids import derived_id
from nexus_protocol.messages import Cancel, Event, Fill, Message, Route, VenueOrder
from nexus_protocol.partitions import Partitions

log = logging.getLogger(__name__)
_URGENT = frozenset({IntentState.REJECTED, IntentState.UNKNOWN})  # written before the handler returns


@dataclass
class _Held:
    """A thread's intent marks inside `_published_first`."""

    urgent_first: bool
    marks: dict[str, IntentState] = field(default_factory=dict)


class OrderFlow(ABC):
    """The per-order half of `Adapter` (which adds the link's upkeep); subclass `Adapter`, not this."""

    settings: AdapterSettings

    def __init__(self, settings: AdapterSettings, client: redis.Redis) -> None:
        self.settings = settings
        self.venue = settings.venue
        self.names = settings.names
        self.redis = client
        self.owner = f"adapter-{self.venue}"
        self.intents = IntentStore(client, self.names, self.venue, retention_ms=settings.dedupe_ttl_ms)
        self.ledger = ExecutionLedger(client, self.names.state(self.owner, "executions"))
        self.intents.expire_with(self.ledger.key)
        self.publisher = Publisher(client, dedupe_ttl_ms=settings.dedupe_ttl_ms)
        self.registry = load_symbols(settings.config_dir)  # read once, at start: a bad file stops it here
        self.parts = Partitions.of(self.names, self.registry)  # a report goes to its order's partition
        self._outbox = Outbox()
        self._awaiting = AwaitingAck(settings.ack_timeout_s)
        self._reconcile_needed = True
        self._kill_on = False  # refreshed every tick; the router is the authority, this is a backstop
        self._marks: dict[str, IntentState] = {}
        self._urgent = False
        self._marks_lock = threading.Lock()
        self._deferral = threading.local()  # `.held`: this thread's marks held until a publish succeeds

    # ---- the platform part: the order calls ------------------------------------------------------

    @abstractmethod
    def connected(self) -> bool: ...

    @abstractmethod
    def submit(self, order: VenueOrder) -> Sequence[PlatformReport]:
        """Send a new order. Return what is known at once (accepted, rejected, immediate fills).
        Raise VenueError for a definitive refusal, UnknownOutcome when the outcome is unknown."""

    @abstractmethod
    def cancel(self, client_order_id: str) -> Sequence[PlatformReport]: ...

    @abstractmethod
    def lookup(self, client_order_id: str) -> Sequence[PlatformReport] | None:
        """The order's state and all its fills at the platform, or None if it never arrived there
        ([] when the platform has it and there is nothing to report yet)."""

    # ---- what subclasses call (any thread) ------------------------------------------------------

    def request_reconcile(self) -> None:
        self._reconcile_needed = True

    def emit_reports(self, reports: Iterable[PlatformReport]) -> bool:
        """Publish what the platform pushed: reports, fills found outside the order flow (polls,
        snapshots), executions. Never raises: what cannot be published now is kept and retried on the
        adapter's tick. True when everything held so far reached Redis (a subclass may then move a
        marker past it)."""
        return self._emit(reports)

    def emit_event(
        self,
        kind: str,
        message: str,
        *,
        key: Sequence[str | int] = (),
        severity: Severity = Severity.WARNING,
        client_order_id: str | None = None,
        **data: Any,
    ) -> None:
        """An event on nx:events, with an id derived from `kind`, the venue and `key` (what it is
        about: the same occurrence seen again dedupes). Kept and retried like reports."""
        metrics.EVENTS.labels(self.owner, kind, severity.value).inc()
        body = Event(kind=kind, severity=severity, source=self.owner, message=message, venue=self.venue,
                     client_order_id=client_order_id, data=data)  # fmt: skip
        self._emit([Output(self.names.events, Envelope.new(body, id=derived_id(kind, self.venue, *key)))])

    # ---- order handling -------------------------------------------------------------------------

    def _on_order(self, env: Envelope[Message], ctx: Context) -> list[Output]:
        msg = env.body
        if isinstance(msg, Cancel):
            return self._on_cancel(msg, ctx)
        if not isinstance(msg, VenueOrder):
            raise TypeError(f"{msg.TYPE} does not belong on an order stream")
        if msg.venue != self.venue:
            reason = f"order for venue {msg.venue} reached {self.venue}"
            return self._outputs([rejected(msg.client_order_id, reason)], msg)
        coid = msg.client_order_id
        state = self._claim(msg)  # recorded before anything is sent
        if state is None and ctx.maybe_handled:
            state = IntentState.SENDING  # its record may have been lost with Redis: ask the platform first
        held = _Held(urgent_first=True)
        reports: Sequence[PlatformReport] = ()
        with self._held(coid):
            try:
                with self._published_first(held):
                    reports = self._handle(msg, state)
                    outs = self._outputs(reports, msg)
                    if self._urgent:
                        self._flush_marks()  # this order's `rejected`/`unknown`; its others are held
                    self.publisher.publish(outs)  # before anything the platform pushes after this answer
            except redis.RedisError:
                self._unpublished(held, reports)
                raise
        return []

    def _unpublished(self, held: _Held, reports: Sequence[PlatformReport]) -> None:
        """The order's answer never reached Redis (it went down): its intent moves as marked, except
        that it must not say `done`, or the redelivery would find nothing to do and the order would
        never be answered. A refusal stays a refusal, answered again on redelivery; anything else
        final is looked up again (`sent`)."""
        refused = any(isinstance(r, VenueReport) and r.status is OrderStatus.REJECTED for r in reports)
        instead = IntentState.REJECTED if refused else IntentState.SENT
        for coid, state in held.marks.items():
            self._mark(coid, instead if state is IntentState.DONE else state)

    def _handle(self, order: VenueOrder, state: IntentState | None) -> Sequence[PlatformReport]:
        coid = order.client_order_id
        if state is not None:
            return self._resume(order, state)
        if self._kill_on and not order.reduce_only:
            self._mark(coid, IntentState.REJECTED)
            return [rejected(coid, "kill switch is on")]
        if not self.connected():
            self._mark(coid, IntentState.REJECTED)
            return [rejected(coid, f"{self.venue} is not connected")]
        return self._send(order)

    @contextmanager
    def _held(self, coid: str) -> Iterator[None]:
        """What the platform pushes for `coid` inside the block waits, and is published after it."""
        self._outbox.hold(coid)
        try:
            yield
        finally:
            late = self._outbox.release(coid)
            if late:
                self._emit(late)

    def _claim(self, order: VenueOrder) -> IntentState | None:
        with self._marks_lock:
            lazy, self._marks = self._marks, {}
        try:
            return self.intents.claim(order, lazy)
        except redis.RedisError:
            with self._marks_lock:
                self._marks = {**lazy, **self._marks}
            raise

    def _mark(self, coid: str, state: IntentState) -> None:
        """Intent states are written together, lazily: `sent`, `working` and `done` with the next claim
        or tick (a lost one only makes a redelivery or a reconnect ask the platform first); `rejected`
        and `unknown` before the handler returns, because losing them could send a refused order later.
        Inside `_published_first` they wait for its publish (urgent ones too unless `urgent_first`)."""
        held: _Held | None = getattr(self._deferral, "held", None)
        if held is not None:
            if not (held.urgent_first and state in _URGENT):
                held.marks[coid] = state
                return
            held.marks.pop(coid, None)  # an earlier state of this order, overtaken
        with self._marks_lock:
            self._marks[coid] = state
            if state in _URGENT:
                self._urgent = True

    @contextmanager
    def _published_first(self, held: _Held | None = None) -> Iterator[None]:
        """The intent states marked in the block (this thread's) are kept back and recorded only if the
        block ends normally, that is after it published what it built: an order's intent never says
        `done` (or `rejected`) for a report that did not reach Redis, whatever fails or is killed
        between the two (another thread's flush included), so whatever resolved it resolves it again.
        `held.urgent_first`: `rejected` and `unknown` are marked at once, for the block to write
        before its publish (a new order: its refusal must be on record before anything could resend
        it)."""
        outer: _Held | None = getattr(self._deferral, "held", None)
        held = held or _Held(urgent_first=False)
        self._deferral.held = held
        try:
            yield
        finally:
            self._deferral.held = outer
        for coid, state in held.marks.items():
            self._mark(coid, state)

    def _publish_answer(self, order: VenueOrder, state: IntentState) -> None:
        """Ask the platform about an order whose outcome is open and publish what it says; its intent
        moves only once that is published."""
        with self._published_first():
            self.publisher.publish(self._outputs(self._resume(order, state), order))

    def _flush_marks(self) -> None:
        with self._marks_lock:
            marks, self._marks, self._urgent = self._marks, {}, False
        try:
            self.intents.mark_many(marks)
        except redis.RedisError:
            with self._marks_lock:
                self._marks = {**marks, **self._marks}
            raise

    def _resume(self, order: VenueOrder, state: IntentState) -> Sequence[PlatformReport]:
        """A redelivered or replayed order, or one whose outcome is open: ask the platform first."""
        coid = order.client_order_id
        if state is IntentState.REJECTED:
            # Refused before; the refusal again (publishing dedupes it if it went out the first time,
            # and answers the order if Redis went down before it did).
            return [rejected(coid, f"refused by the {self.venue} adapter")]
        if not self.connected():
            return self._ask_later(coid, state)
        try:
            found = self.lookup(coid)
        except VenueError as exc:
            if not exc.retryable:
                raise
            log.warning("%s: cannot look up %s now (%s); reconciliation will", self.venue, coid, exc)
            return self._ask_later(coid, state)
        if found is not None:
            if state is not IntentState.DONE:
                self._mark(coid, IntentState.SENT)
                self._awaiting.sent(coid)  # acknowledged by what `found` holds, else looked up again
            return found
        if state is IntentState.SENDING:
            log.warning(
                "%s: %s was recorded but never reached the platform; sending it now", self.venue, coid
            )
            return self._send(order)
        if state in (IntentState.WORKING, IntentState.DONE):
            log.error("%s: %s was acknowledged but the platform no longer shows it", self.venue, coid)
            return []
        self._mark(coid, IntentState.REJECTED)
        self._awaiting.acknowledged(coid)
        if state is IntentState.SENT:
            reason = f"sent to {self.venue}, never acknowledged, and not found there; not resent"
            return [rejected(coid, reason)]
        return [rejected(coid, f"not found at {self.venue} after an unknown outcome; not resent")]

    def _ask_later(self, coid: str, state: IntentState) -> Sequence[PlatformReport]:
        """Cannot ask the platform now (the link is down): the outcome stays open and reconciliation
        resolves it on reconnect (found: reported; not found: rejected, never sent late)."""
        if state in (IntentState.SENDING, IntentState.UNKNOWN):
            self._mark(coid, IntentState.UNKNOWN)
        self.request_reconcile()
        return []

    def _send(self, order: VenueOrder) -> Sequence[PlatformReport]:
        """Submit; what the platform pushed meanwhile (held, see `_held`) comes back after its answer."""
        coid = order.client_order_id
        try:
            reports = self.submit(order)
        except VenueError as exc:
            self._mark(coid, IntentState.REJECTED)
            # retryable: refused before anything went out (the link dropped): never sent late
            reason = exc.reason
            if exc.retryable:
                reason = f"{self.venue} could not take the order now: {reason}"
            return [*self._outbox.drain(coid), rejected(coid, reason)]
        except (UnknownOutcome, OSError, TimeoutError) as exc:
            early = self._outbox.drain(coid)
            if any(r.acknowledges for r in early):  # the platform's own reports show it has the order
                log.info("%s: %s answered while the call failed (%s)", self.venue, coid, exc)
                return self._sent(coid, early)
            log.warning("%s: unknown outcome for %s (%s); will look it up", self.venue, coid, exc)
            self._mark(coid, IntentState.UNKNOWN)
            self.request_reconcile()
            return early
        early = [r for r in self._outbox.drain(coid) if r not in reports]  # the answer may be pushed too
        return self._sent(coid, [*reports, *early])

    def _sent(self, coid: str, reports: Sequence[PlatformReport]) -> Sequence[PlatformReport]:
        self._mark(coid, IntentState.SENT)
        self._awaiting.sent(coid)  # `_outputs` clears it when `reports` acknowledge the order
        return reports

    def _on_cancel(self, msg: Cancel, ctx: Context) -> list[Output]:
        order = self.intents.order(msg.client_order_id)
        if order is None:
            return [
                ctx.event(
                    "cancel_unknown_order",
                    f"cancel for {msg.client_order_id}: never sent here",
                    severity=Severity.WARNING,
                    event_id=f"cancel_unknown:{msg.client_order_id}",
                    venue=self.venue,
                    client_order_id=msg.client_order_id,
                )
            ]
        outs = self._outputs(self.cancel(msg.client_order_id), order)
        self._flush_marks()
        return outs

    def _emit(self, pushed: Iterable[Pushed]) -> bool:
        pending = self._outbox.take(pushed)
        if not pending:
            return True
        try:
            with self._published_first():  # reads intents and the ledger: may fail too
                self.publisher.publish(self._outputs(pending))
            self._flush_marks()
        except redis.RedisError as exc:
            log.warning("could not publish %d reports now (%s); will retry", len(pending), exc)
            self._outbox.put_back(pending)
            return False
        return True

    def _outputs(self, reports: Iterable[Pushed], order: VenueOrder | None = None) -> list[Output]:
        """Reports as fills on nx:fills:raw (executions counted in the ledger first), events as they are."""
        outs: list[Output] = []
        for item in reports:
            if isinstance(item, Output):
                outs.append(item)
                continue
            coid = item.client_order_id
            o = order if order is not None and order.client_order_id == coid else self.intents.order(coid)
            if o is None:
                outs.append(self._foreign(item.foreign() if isinstance(item, VenueExecution) else item))
                continue
            if isinstance(item, VenueExecution):
                entry, amended = self.ledger.record(item)
                if amended:
                    outs.append(self._amended(item, entry.qty, entry.price))
                rep = report(entry, coid, o.venue_quantity)
            else:
                rep = item
            if rep.leaves_qty is None:  # the platform did not say: what the order still waits for
                leaves = 0.0 if rep.status.terminal else max(0.0, o.venue_quantity - rep.cum_qty)
                rep = replace(rep, leaves_qty=leaves)
            if rep.status.terminal:
                self._awaiting.acknowledged(coid)
                self._mark(coid, IntentState.DONE)
            elif rep.acknowledges and self._awaiting.acknowledged(coid):
                self._mark(coid, IntentState.WORKING)
            outs.append(self.report_output(rep.to_fill(o), o))
        return outs

    def report_output(self, fill: Fill, order: VenueOrder) -> Output:
        body = Envelope.new(fill, id=fill.fill_id, trace=order.signal_id)
        return Output(self.parts.stream("fills:raw", order.symbol), body)

    def route_output(self, route: Route, env_id: str) -> Output:
        """A leg of the adapter's own (flatten, resync) has its route on its symbol's fills partition."""
        body = Envelope.new(route, id=env_id, trace=route.signal_id)
        return Output(self.parts.stream("fills", route.symbol), body)

    def _foreign(self, rep: VenueReport) -> Output:
        body = Event(
            kind="foreign_order",
            severity=Severity.WARNING,
            source=self.owner,
            message=f"{self.venue} reported {rep.client_order_id!r}, which this gateway did not send",
            venue=self.venue,
            client_order_id=rep.client_order_id,
            data={"status": rep.status.value, "qty": rep.last_qty, "price": rep.last_price},
        )
        return Output(
            self.names.events, Envelope.new(body, id=derived_id("foreign", self.venue, rep.fill_id))
        )

    def _amended(self, x: VenueExecution, qty: float, price: float) -> Output:
        log.warning("%s amended execution %s of %s: %s @ %s, first reported %s @ %s",
                    self.venue, x.exec_id, x.client_order_id, x.qty, x.price, qty, price)  # fmt: skip
        body = Event(
            kind="execution_amended", severity=Severity.WARNING, source=self.owner,
            message=f"{self.venue} amended execution {x.exec_id}; the first report stands",
            venue=self.venue, client_order_id=x.client_order_id,
            data={"execution_id": x.exec_id, "quantity": x.qty, "price": x.price, "first_quantity": qty,
                  "first_price": price},
        )  # fmt: skip
        eid = derived_id("amend", self.venue, x.exec_id, repr(x.qty), repr(x.price))
        return Output(self.names.events, Envelope.new(body, id=eid))
