"""The adapter base: one platform link, effectively-once orders, every fill reported.

A platform adapter subclasses `Adapter` and implements the platform part: `connect`, `connected`,
`submit`, `cancel`, `lookup`, `reconcile` (required: a first-class method, not an afterthought),
and pushes what the platform tells it later through `emit_reports` and `emit_tick`.

The base keeps the guarantees, the same for every platform:
- It reads `nx:orders:{venue}` through the StreamProcessor (own pending first, claim, dead letters).
- It records the intent before sending. On redelivery or replay it asks the platform for the order
  by client order id before anything else, and sends only if the platform has never seen it.
- A timeout or a dropped link during a send is an *unknown outcome*: the intent is marked unknown and
  resolved by looking the order up once the link is back, never by sending again blindly.
- Reports become `Fill`s on nx:fills:raw with ids derived from the venue's execution ids, so a report
  seen twice, or re-read by reconciliation, dedupes.
- On start and after every reconnect it reconciles: open orders, fills since the last one seen,
  positions compared with the gateway's view (an event for each difference).
- It heartbeats its link state (`nx:{control}:venue:{venue}`) for the router's venue-connected check,
  and on the kill switch cancels its working orders (and flattens, if configured).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from nexus_mesh import metrics
from nexus_mesh.adapter.intents import IntentState, IntentStore
from nexus_mesh.adapter.reports import Reconciliation, VenueReport, rejected
from nexus_mesh.adapter.settings import AdapterSettings
from nexus_mesh.connection import as_str
from nexus_mesh.context import Context
from nexus_mesh.killswitch import KillSwitch
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output, Publisher
from nexus_protocol.codec import Envelope, pack
from nexus_protocol.enums import Severity
from nexus_protocol.errors import UnknownOutcome, VenueError
from nexus_protocol.ids import derived_id
from nexus_protocol.messages import Cancel, Event, Heartbeat, Message, Tick, VenueOrder

log = logging.getLogger(__name__)


class Adapter(ABC):
    """Subclass per platform; see the module docstring for the contract."""

    settings: AdapterSettings

    def __init__(self, settings: AdapterSettings, client: redis.Redis) -> None:
        self.settings = settings
        self.venue = settings.venue
        self.names = settings.names
        self.redis = client
        self.intents = IntentStore(client, self.names, self.venue, retention_ms=settings.dedupe_ttl_ms)
        self._next_prune = 0.0
        self.publisher = Publisher(client, dedupe_ttl_ms=settings.dedupe_ttl_ms)
        self.killswitch = KillSwitch(client, self.names)
        self._backlog: list[VenueReport] = []  # pushed reports that could not be published yet
        self._backlog_lock = threading.Lock()
        self._reconcile_needed = True
        self._handled_kill: str | None = None
        self._kill_on = False  # refreshed every tick; the router is the authority, this is a backstop
        self._marks: dict[str, IntentState] = {}
        self._urgent = False
        self._marks_lock = threading.Lock()
        self.processor = StreamProcessor(
            settings,
            [Input(self.names.orders(self.venue), self._on_order)],
            client=client,
            tick=self._tick,
            tick_interval_s=settings.tick_interval_s,
            heartbeat_detail=lambda: {"venue": self.venue, "connected": self.connected()},
            on_group_lost=lambda _stream: self.request_reconcile(),
        )

    # ---- the platform part ----------------------------------------------------------------------

    @abstractmethod
    def connect(self) -> None:
        """Open the platform link (idempotent). Call `request_reconcile` after every reconnect."""

    @abstractmethod
    def connected(self) -> bool: ...

    @abstractmethod
    def submit(self, order: VenueOrder) -> list[VenueReport]:
        """Send a new order. Return what is known at once (accepted, rejected, immediate fills).
        Raise VenueError for a definitive refusal, UnknownOutcome when the outcome is unknown."""

    @abstractmethod
    def cancel(self, client_order_id: str) -> list[VenueReport]: ...

    @abstractmethod
    def lookup(self, client_order_id: str) -> list[VenueReport] | None:
        """The order's state and all its fills at the platform, or None if it never arrived there."""

    @abstractmethod
    def reconcile(self, since: str | None) -> Reconciliation: ...

    def open_orders(self) -> list[str]:
        """Client order ids working at the platform (for the kill switch)."""
        return [r.client_order_id for r in self.reconcile(self.intents.marker()).open_orders]

    def flatten(self) -> list[VenueReport]:
        """Close every position (kill switch with flatten). Platforms that can, override."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the platform link on stop."""

    def poll(self) -> None:  # noqa: B027 - optional hook
        """Periodic platform work on the adapter's loop (every NX_TICK_INTERVAL_S); optional."""

    # ---- what subclasses call -------------------------------------------------------------------

    def request_reconcile(self) -> None:
        self._reconcile_needed = True

    def emit_reports(self, reports: Iterable[VenueReport]) -> bool:
        """Publish reports the platform pushed (any thread). Kept and retried if Redis is down.

        True when everything held so far reached Redis (a subclass may then move its fill marker)."""
        with self._backlog_lock:
            self._backlog.extend(reports)
            pending, self._backlog = self._backlog, []
        try:
            self.publisher.publish(self._fill_outputs(pending))  # reads intents: may fail too
            self._flush_marks()
        except redis.RedisError as exc:
            log.warning("could not publish %d reports now (%s); will retry", len(pending), exc)
            with self._backlog_lock:
                self._backlog = pending + self._backlog
            return False
        return True

    def emit_tick(self, tick: Tick) -> None:
        """Best effort: the next tick replaces a lost one."""
        self.emit_market_data([tick])

    def emit_market_data(self, messages: Sequence[Message]) -> None:
        """Publish market data of any kind (Tick, DepthSnapshot, DepthUpdate) to nx:md:raw:{venue}, in
        order, in one round trip, capped like ticks. Best effort: L2 readers detect a lost update by its
        sequence number and ask for a snapshot."""
        if not messages:
            return
        stream, now = self.names.md_raw(self.venue), time.time_ns()
        pipe = self.redis.pipeline(transaction=False)
        for i, msg in enumerate(messages):
            env = Envelope.new(msg, id=derived_id(msg.TYPE, self.venue, now, i))
            pipe.xadd(stream, _fields(env), maxlen=self.settings.md_maxlen, approximate=True)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            log.debug("market data not published (%s)", exc)

    def venue_detail(self) -> dict[str, Any]:
        """Extra facts for the venue heartbeat's `detail` (e.g. `can_trade` from the platform)."""
        return {}

    # ---- life cycle -----------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self.connect()
        except (VenueError, OSError) as exc:
            log.warning("platform not reachable at start (%s); will keep trying", exc)
        self.processor.run()
        self.close()

    def stop(self) -> None:
        self.processor.stop()

    # ---- order handling -------------------------------------------------------------------------

    def _on_order(self, env: Envelope[Message], ctx: Context) -> list[Output]:
        msg = env.body
        if isinstance(msg, Cancel):
            return self._on_cancel(msg, ctx)
        if not isinstance(msg, VenueOrder):
            raise TypeError(f"{msg.TYPE} does not belong on an order stream")
        if msg.venue != self.venue:
            return self._fill_outputs(
                [rejected(msg.client_order_id, f"order for venue {msg.venue} reached {self.venue}")], msg
            )
        coid = msg.client_order_id
        with self._marks_lock:
            lazy, self._marks = self._marks, {}
        try:
            state = self.intents.claim(msg, lazy)  # recorded before anything is sent
        except redis.RedisError:
            with self._marks_lock:
                self._marks = {**lazy, **self._marks}
            raise
        if state is not None:
            reports = self._resume(msg, state)
        elif self._kill_on and not msg.reduce_only:
            self._mark(coid, IntentState.REJECTED)
            reports = [rejected(coid, "kill switch is on")]
        elif not self.connected():
            self._mark(coid, IntentState.REJECTED)
            reports = [rejected(coid, f"{self.venue} is not connected")]
        else:
            reports = self._send(msg)
        outs = self._fill_outputs(reports, msg)
        if self._urgent:
            self._flush_marks()
        return outs

    def _mark(self, coid: str, state: IntentState) -> None:
        """Intent states are written together, lazily: `sent` and `done` with the next claim or tick (a
        lost one leaves `sending`, which only makes a redelivery ask the platform first); `rejected` and
        `unknown` before the handler returns, because losing them could send a refused order later."""
        with self._marks_lock:
            self._marks[coid] = state
            if state in (IntentState.REJECTED, IntentState.UNKNOWN):
                self._urgent = True

    def _flush_marks(self) -> None:
        with self._marks_lock:
            marks, self._marks, self._urgent = self._marks, {}, False
        try:
            self.intents.mark_many(marks)
        except redis.RedisError:
            with self._marks_lock:
                self._marks = {**marks, **self._marks}
            raise

    def _resume(self, order: VenueOrder, state: IntentState) -> list[VenueReport]:
        """A redelivered or replayed order: ask the platform before doing anything."""
        if state is IntentState.REJECTED:
            return []  # the refusal was published when it happened; a replay republishes nothing new
        if not self.connected():
            # Cannot ask now: the outcome stays unknown and reconciliation resolves it on reconnect
            # (found: reported; not found: rejected, never sent late).
            self._mark(order.client_order_id, IntentState.UNKNOWN)
            self.request_reconcile()
            return []
        found = self.lookup(order.client_order_id)
        if found is not None:
            self._mark(order.client_order_id, IntentState.SENT)
            return found
        if state is IntentState.SENDING:
            log.warning(
                "%s: %s was recorded but never reached the platform; sending it now",
                self.venue,
                order.client_order_id,
            )
            return self._send(order)
        self._mark(order.client_order_id, IntentState.REJECTED)
        return [
            rejected(order.client_order_id, f"not found at {self.venue} after an unknown outcome; not resent")
        ]

    def _send(self, order: VenueOrder) -> list[VenueReport]:
        coid = order.client_order_id
        try:
            reports = self.submit(order)
        except VenueError as exc:
            self._mark(coid, IntentState.REJECTED)
            if exc.retryable:  # refused before anything went out (the link dropped): never sent late
                return [rejected(coid, f"{self.venue} could not take the order now: {exc.reason}")]
            return [rejected(coid, exc.reason)]
        except (UnknownOutcome, OSError, TimeoutError) as exc:
            log.warning("%s: unknown outcome for %s (%s); will look it up", self.venue, coid, exc)
            self._mark(coid, IntentState.UNKNOWN)
            self.request_reconcile()
            return []
        self._mark(coid, IntentState.SENT)
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
        outs = self._fill_outputs(self.cancel(msg.client_order_id), order)
        self._flush_marks()
        return outs

    def _fill_outputs(self, reports: Iterable[VenueReport], order: VenueOrder | None = None) -> list[Output]:
        outs: list[Output] = []
        for rep in reports:
            o = (
                order
                if order is not None and order.client_order_id == rep.client_order_id
                else self.intents.order(rep.client_order_id)
            )
            if o is None:
                outs.append(self._foreign(rep))
                continue
            fill = rep.to_fill(o)
            if rep.status.terminal:
                self._mark(rep.client_order_id, IntentState.DONE)
            outs.append(Output(self.names.fills_raw, Envelope.new(fill, id=fill.fill_id, trace=o.signal_id)))
        return outs

    def _foreign(self, rep: VenueReport) -> Output:
        body = Event(
            kind="foreign_order",
            severity=Severity.WARNING,
            source=f"adapter-{self.venue}",
            message=f"{self.venue} reported {rep.client_order_id!r}, which this gateway did not send",
            venue=self.venue,
            client_order_id=rep.client_order_id,
            data={"status": rep.status.value, "qty": rep.last_qty, "price": rep.last_price},
        )
        return Output(
            self.names.events, Envelope.new(body, id=derived_id("foreign", self.venue, rep.fill_id))
        )

    # ---- periodic work --------------------------------------------------------------------------

    def _tick(self, ctx: Context) -> list[Output]:
        self._flush_marks()  # before reconciliation reads states
        with self._backlog_lock:
            held, self._backlog = self._backlog, []
        outs = self._fill_outputs(held)
        was = self.connected()
        if not was:
            try:
                self.connect()
            except (VenueError, OSError) as exc:
                log.debug("reconnect failed: %s", exc)
        if self.connected():
            if not was:
                self.request_reconcile()
            if self._reconcile_needed:
                outs += self._reconcile(ctx)
            outs += self._apply_killswitch(ctx)
        self.poll()
        self._beat_venue()
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + 3600
            self.intents.prune()
        self._flush_marks()
        return outs

    def _reconcile(self, ctx: Context) -> list[Output]:
        rec = self.reconcile(self.intents.marker())  # if it raises, the flag stays set: retried next tick
        self._reconcile_needed = False
        outs = self._fill_outputs([*rec.reports, *rec.open_orders])
        for coid in self.intents.in_state(IntentState.UNKNOWN):
            order = self.intents.order(coid)
            if order is not None:
                outs += self._fill_outputs(self._resume(order, IntentState.UNKNOWN), order)
        outs += self._compare_positions(ctx, rec.positions)
        if rec.marker:
            self.publisher.publish(outs)  # publish before moving the marker past these fills
            outs = []
            self.intents.set_marker(rec.marker)
        log.info(
            "%s reconciled: %d open orders, %d reports, %d positions",
            self.venue,
            len(rec.open_orders),
            len(rec.reports),
            len(rec.positions),
        )
        return outs

    def _compare_positions(self, ctx: Context, venue_positions: dict[str, float]) -> list[Output]:
        """The gateway's view (the fills service's venue positions) against the platform's."""
        ours = {
            as_str(k): float(v)
            for k, v in self.redis.hgetall(self.names.state("fills", "venue_positions")).items()
        }
        prefix = f"{self.venue}|"
        expected = {k[len(prefix) :]: v for k, v in ours.items() if k.startswith(prefix)}
        outs = []
        for sym in sorted(set(expected) | set(venue_positions)):
            want, have = expected.get(sym, 0.0), venue_positions.get(sym, 0.0)
            if abs(want - have) > 1e-9:
                outs.append(
                    ctx.event(
                        "position_mismatch",
                        f"{self.venue} {sym}: platform holds {have}, gateway expects {want}",
                        severity=Severity.CRITICAL,
                        event_id=derived_id("posdiff", self.venue, sym, time.time_ns()),
                        venue=self.venue,
                        data={"venue_symbol": sym, "platform": have, "gateway": want},
                    )
                )
        return outs

    def _apply_killswitch(self, ctx: Context) -> list[Output]:
        state = self.killswitch.state()
        self._kill_on = state is not None and state.on
        if state is None or not state.on or state.activation == self._handled_kill:
            return []
        self._handled_kill = state.activation
        outs: list[Output] = []
        for coid in self.open_orders():
            outs += self._fill_outputs(self.cancel(coid))
        if state.flatten and self.settings.flatten_on_killswitch:
            outs += self._fill_outputs(self.flatten())
        outs.append(
            ctx.event(
                "killswitch_applied",
                f"{self.venue}: working orders cancelled"
                + (
                    " and positions flattened"
                    if state.flatten and self.settings.flatten_on_killswitch
                    else ""
                ),
                severity=Severity.WARNING,
                event_id=derived_id("kill_applied", self.venue, state.activation),
                venue=self.venue,
            )
        )
        return outs

    def _beat_venue(self) -> None:
        up = self.connected()
        metrics.VENUE_CONNECTED.labels(self.venue).set(1 if up else 0)
        hb = Heartbeat(
            service=f"adapter-{self.venue}",
            instance=self.settings.consumer,
            started_ns=0,
            venue=self.venue,
            venue_connected=up,
            detail=self.venue_detail(),
        )
        self.redis.set(self.names.control("venue", self.venue), pack(hb), px=self.settings.heartbeat_ttl_ms)


def _fields(env: Envelope[Any]) -> Any:
    from nexus_protocol.codec import encode

    return encode(env)
