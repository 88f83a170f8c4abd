"""The adapter base: one platform link, effectively-once orders, every fill reported, every leg final.

A platform adapter subclasses `Adapter` and implements only the platform: `connect`, `connected`,
`submit`, `cancel`, `lookup`, `reconcile` (required: a first-class method, not an afterthought) and
`flatten`, with the mapping to and from the platform's terms. What the platform pushes later goes
through `emit_reports` (states, fills with the platform's cumulative figures, or bare executions),
`emit_event`, `emit_tick` / `emit_market_data`.

The base keeps the guarantees, the same for every platform:
- It reads `nx:orders:{venue}` through the StreamProcessor (own pending first, claim, dead letters).
- It records the intent before sending. On redelivery or replay it asks the platform for the order
  by client order id before anything else, and sends only if the platform has never seen it.
- A timeout or a dropped link during a send is an *unknown outcome*: the intent is marked unknown and
  resolved by looking the order up once the link is back, never by sending again blindly.
- Every leg becomes final within a bound: an order the platform took without acknowledging it is
  looked up after `NX_ACK_TIMEOUT_S` and after every reconnect; not found there, it is rejected with
  the reason (never sent late).
- Reports become `Fill`s on nx:fills:raw with ids derived from the venue's execution ids, so a report
  seen twice, or re-read by reconciliation, dedupes. Bare executions are counted in one execution
  ledger (`ledger`) that gives them cumulative figures and survives restarts.
- A report the platform pushes while the order's submit is still running is published with the
  submit's result, after it (`pending.Outbox`); what cannot reach Redis is kept and retried.
- On start and after every reconnect it reconciles: open orders, fills since the last one seen,
  positions compared with the gateway's view; a difference that persists past a grace window with no
  order of its symbol unfinished is a `position_mismatch` event (`drift`: one rule for reconnects and
  the periodic drift checks). With NX_AUTO_RESYNC such a difference is booked as an outside trade and
  the platform brought back to the gateway's position by an order of its own (`resync_flow`).
- It heartbeats its link state (`nx:{control}:venue:{venue}`) for the router's venue-connected check,
  and on the kill switch cancels its working orders and, asked to flatten, closes every position
  (`flatten`) with orders of their own that reach the gateway like any leg.
"""

from __future__ import annotations

import logging
import math
import time
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from nexus_mesh import metrics
from nexus_mesh.adapter.drift import DriftWatch, Persisting, differences
from nexus_mesh.adapter.flatten import HeldPosition, closing_order
from nexus_mesh.adapter.flow import OrderFlow
from nexus_mesh.adapter.intents import IntentState
from nexus_mesh.adapter.ledger import report
from nexus_mesh.adapter.own import single_leg_route
from nexus_mesh.adapter.reports import Reconciliation
from nexus_mesh.adapter.resync_flow import Resyncer
from nexus_mesh.adapter.settings import AdapterSettings
from nexus_mesh.connection import as_str
from nexus_mesh.context import Context
from nexus_mesh.killswitch import KillSwitch
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output
from nexus_mesh.venues import check_venue
from nexus_protocol.codec import Envelope, InvalidMessage, encode, pack, validated
from nexus_protocol.enums import Severity
from nexus_protocol.errors import DecodeError, VenueError
from nexus_protocol.ids import derived_id
from nexus_protocol.messages import Heartbeat, KillSwitchState, Message, Tick, VenueOrder

log = logging.getLogger(__name__)
_UNFINISHED = (IntentState.SENDING, IntentState.SENT, IntentState.WORKING, IntentState.UNKNOWN)


class Adapter(OrderFlow):
    """Subclass per platform; see the module docstring for the contract."""

    def __init__(self, settings: AdapterSettings, client: redis.Redis) -> None:
        check_venue(settings.config_dir, settings.venue)  # NX_VENUE=nope stops the adapter at start
        super().__init__(settings, client)
        self.killswitch = KillSwitch(client, self.names)
        self._awaiting_loaded = False
        self._next_prune = 0.0
        self._drift = DriftWatch(settings.position_grace_s)
        self._next_check = self._scheduled_check(time.monotonic())
        self._handled_kill: str | None = None
        self._quotes: dict[str, float] = {}  # venue symbol -> the platform's last price
        self._resync = Resyncer(self)
        self.processor = StreamProcessor(
            settings,
            [Input(self.names.orders(self.venue), self._on_order)],
            client=client,
            tick=self._tick,
            tick_interval_s=settings.tick_interval_s,
            heartbeat_detail=lambda: {"venue": self.venue, "connected": self.connected()},
            on_group_lost=lambda _stream: self.request_reconcile(),
            on_reconnect=self.request_reconcile,  # Redis may have failed over: ask for what was lost
        )

    # ---- the platform part: the link ------------------------------------------------------------

    @abstractmethod
    def connect(self) -> None:
        """Open the platform link (idempotent). Call `request_reconcile` after every reconnect."""

    @abstractmethod
    def reconcile(self, since: str | None) -> Reconciliation: ...

    @abstractmethod
    def flatten(self) -> list[HeldPosition]:
        """The positions the platform holds now, for the kill switch's flatten: the base closes each
        with a market order of its own (`flatten.closing_order`) sent through `submit`."""

    def open_orders(self) -> list[str]:
        """Client order ids working at the platform (for the kill switch)."""
        return [r.client_order_id for r in self.reconcile(self.intents.marker()).open_orders]

    def close(self) -> None:
        """Release the platform link on stop."""

    def poll(self) -> None:
        """Periodic platform work on the adapter's loop (every NX_TICK_INTERVAL_S); optional."""

    def last_price(self, venue_symbol: str) -> float | None:
        """The platform's last price of `venue_symbol` (from the ticks it emitted), for the resync's
        booking of an outside trade; a platform with a better answer overrides it."""
        return self._quotes.get(venue_symbol)

    def venue_detail(self) -> dict[str, Any]:
        """Extra facts for the venue heartbeat's `detail`, e.g. `can_trade` (bool) where the platform says."""
        return {}

    def account_equity(self) -> tuple[float, str] | None:
        """The account's equity (balance plus open P&L) and its currency as the platform last said it,
        None when unknown; called every tick, so from what the platform pushed or was polled for. The
        venue heartbeat carries it (`equity_detail`) for the router's equity sizing."""
        return None

    # ---- what subclasses call (any thread) ------------------------------------------------------

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
            try:
                msg = validated(msg)  # noqa: PLW2901 - what the platform sent, checked at the edge
            except InvalidMessage as exc:
                log.warning("%s: %s from the platform dropped: %s", self.venue, msg.TYPE, exc)
                continue
            if isinstance(msg, Tick) and msg.price is not None:
                self._quotes[msg.symbol] = msg.price
            env = Envelope.new(msg, id=derived_id(msg.TYPE, self.venue, now, i))
            pipe.xadd(stream, encode(env), maxlen=self.settings.md_maxlen, approximate=True)  # type: ignore[arg-type]
        try:
            pipe.execute()
        except redis.RedisError as exc:
            log.debug("market data not published (%s)", exc)

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

    # ---- periodic work --------------------------------------------------------------------------

    def _tick(self, ctx: Context) -> list[Output]:
        self._flush_marks()  # before reconciliation reads states
        self._emit(())  # what the platform pushed that Redis did not take yet
        outs: list[Output] = []
        was = self.connected()
        if not was:
            try:
                self.connect()
            except (VenueError, OSError) as exc:
                log.debug("reconnect failed: %s", exc)
        if self.connected():
            if not was:
                self.request_reconcile()
            if self._next_check is not None and time.monotonic() >= self._next_check:
                self._next_check = None
                self.request_reconcile()  # its position comparison is the drift check
            if self._reconcile_needed:
                outs += self._reconcile(ctx)
            else:
                self._look_up_unacknowledged(self._awaiting.due())
            outs += self._apply_killswitch(ctx)
        self.poll()
        self._beat_venue()
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + 3600
            self.intents.prune()
        self._flush_marks()
        return outs

    def _reconcile(self, ctx: Context) -> list[Output]:
        """What the platform holds against what the gateway knows. Everything it answers is published
        here, before any intent moves (`_published_first`) and before the marker moves past it; until
        it has all gone out, the flag stays set and the next tick reconciles again."""
        rec = self.reconcile(self.intents.marker())  # if it raises, the flag stays set: retried next tick
        self._reconcile_needed = False  # a lookup the link cuts below asks for the next one
        open_ = self.intents.states(*_UNFINISHED)
        if not self._awaiting_loaded:  # after a restart: every order sent and never acknowledged
            self._awaiting_loaded = True
            self._await_sent(open_)
        try:
            with self._published_first():
                outs = self._outputs([*rec.reports, *rec.open_orders])
                outs += self._republish_ledger(open_)
                self.publisher.publish(outs)
            for coid in [c for c, s in open_.items() if s is IntentState.UNKNOWN]:
                order = self.intents.order(coid)
                if order is not None:
                    self._publish_answer(order, IntentState.UNKNOWN)
            self._look_up_unacknowledged(self._awaiting.due(every=True))
        except Exception:
            self._reconcile_needed = True  # all of it again next tick (what went out dedupes)
            self._await_sent(open_)
            raise
        if rec.marker:
            self.intents.set_marker(rec.marker)
        log.info("%s reconciled: %d open orders, %d reports, %d positions",
                 self.venue, len(rec.open_orders), len(rec.reports), len(rec.positions))  # fmt: skip
        return self._compare_positions(ctx, rec.positions, open_)

    def _await_sent(self, states: dict[str, IntentState]) -> None:
        for coid, state in states.items():
            if state is IntentState.SENT:
                self._awaiting.sent(coid, due_now=True)

    def _republish_ledger(self, open_: dict[str, IntentState]) -> list[Output]:
        """The ledger's fills of every unfinished order again (the publish dedupes): an execution counted
        just before a crash, whose fill never went out, goes out now."""
        out: list[Output] = []
        for coid, entries in self.ledger.many(sorted(open_)).items():
            order = self.intents.order(coid)
            if order is not None:
                out += self._outputs([report(e, coid, order.venue_quantity) for e in entries], order)
        return out

    def _look_up_unacknowledged(self, coids: list[str]) -> None:
        """Orders sent and not acknowledged in time: asked for, each answer published before its intent
        moves (an answer Redis did not take leaves the order to be asked again)."""
        for coid in coids:
            order = self.intents.order(coid)
            if order is None:
                self._awaiting.acknowledged(coid)
                continue
            try:
                self._publish_answer(order, IntentState.SENT)
            except VenueError as exc:  # the link went while asking: the next reconnect asks again
                log.warning("%s: could not look up %s (%s)", self.venue, coid, exc)
                break
            except redis.RedisError:
                self._awaiting.sent(coid, due_now=True)
                raise

    def _compare_positions(
        self, ctx: Context, venue_positions: dict[str, float], unfinished: Iterable[str]
    ) -> list[Output]:
        """The gateway's view (the fills service's venue positions) against the platform's, through the
        one rule of `drift`; schedules the next comparison (the periodic check, or sooner for a
        difference waiting for its grace window)."""
        ours = {
            as_str(k): float(v)
            for k, v in self.redis.hgetall(self.names.state("fills", "venue_positions")).items()
        }
        prefix = f"{self.venue}|"
        expected = {k[len(prefix) :]: v for k, v in ours.items() if k.startswith(prefix)}
        now = time.monotonic()
        differ = differences(expected, venue_positions)
        busy = self._symbols_of(unfinished) if differ else set()
        due = self._drift.observe(expected, venue_positions, now, busy)
        outs = [self._mismatch_event(ctx, p) for p in due]
        retry = None
        if self.settings.auto_resync:
            resynced, wait_s = self._resync.step(ctx, due, differ)
            outs += resynced
            retry = None if wait_s is None else now + wait_s
        checks = (self._drift.next_check(now), self._scheduled_check(now), retry)
        self._next_check = min((t for t in checks if t is not None), default=None)
        return outs

    def _scheduled_check(self, now: float) -> float | None:
        interval = self.settings.drift_check_interval_s
        return now + interval if interval else None

    def _symbols_of(self, coids: Iterable[str]) -> set[str]:
        """The venue symbols of these orders (unfinished ones: their fills may still come)."""
        orders = (self.intents.order(coid) for coid in coids)
        return {o.venue_symbol for o in orders if o is not None}

    def _mismatch_event(self, ctx: Context, p: Persisting) -> Output:
        d, since = p.drift, int(time.time() - p.for_s)
        return ctx.event(
            "position_mismatch",
            f"{self.venue} {d.venue_symbol} differs: platform holds {d.platform}, gateway expects "
            f"{d.gateway} (difference {d.difference:+g}), unchanged for {p.for_s:.0f} s with no order "
            "of it working",
            severity=Severity.CRITICAL,
            event_id=derived_id("position_mismatch", self.venue, d.venue_symbol, repr(d.gateway),
                                repr(d.platform), since),
            venue=self.venue,
            data={"venue_symbol": d.venue_symbol, "platform": d.platform, "gateway": d.gateway,
                  "difference": round(d.difference, 10), "for_s": round(p.for_s, 3)},
        )  # fmt: skip

    def _apply_killswitch(self, ctx: Context) -> list[Output]:
        """Once per activation (remembered in Redis, so a restart does not apply it again): cancel every
        working order and, asked to flatten, close every position."""
        state = self.killswitch.state()
        self._kill_on = state is not None and state.on
        if state is None or not state.on:
            return []
        key = self.names.state(self.owner, "killswitch_applied")
        if self._handled_kill is None:
            self._handled_kill = as_str(self.redis.get(key) or b"")
        if state.activation == self._handled_kill:
            return []
        outs: list[Output] = []
        for coid in self.open_orders():
            outs += self._outputs(self.cancel(coid))
        flatten = state.flatten and self.settings.flatten_on_killswitch
        closed, kept = self._flatten(state) if flatten else ([], [])
        what = "working orders cancelled" + (f", {len(closed)} positions closed" if flatten else "")
        if kept:
            what += f"; left open (not in the symbol registry for {self.venue}): {', '.join(kept)}"
        outs.append(ctx.event(
            "killswitch_applied", f"{self.venue}: {what}", severity=Severity.WARNING,
            event_id=derived_id("kill_applied", self.venue, state.activation), venue=self.venue,
            data={"activation": state.activation, "flatten": flatten, "closed": closed, "left_open": kept},
        ))  # fmt: skip
        self.publisher.publish(outs)  # before remembering the activation as applied
        self.redis.set(key, state.activation)
        self._handled_kill = state.activation
        return []

    def _flatten(self, state: KillSwitchState) -> tuple[list[str], list[str]]:
        """A closing order per held position, each a leg of its own: its Route first, then an intent
        and a submit, as an order from the stream is handled."""
        closed, kept = [], []
        for position in self.flatten():
            try:
                order = closing_order(position, venue=self.venue, switch=state, registry=self.registry)
            except DecodeError:
                kept.append(position.venue_symbol)
                continue
            self.send_own(order)
            closed.append(f"{position.venue_symbol} {position.quantity:+g}")
        return closed, kept

    def send_own(self, order: VenueOrder) -> None:
        """An order of the adapter's own (flatten, resync), each the one leg of its own signal: its Route
        first, then an intent and a submit, as an order from the stream is handled."""
        self.publisher.publish([self.route_output(single_leg_route(order), order.signal_id)])
        found = self._claim(order)
        with self._held(order.client_order_id):
            self.publisher.publish(self._outputs(self._handle(order, found), order))

    def _beat_venue(self) -> None:
        up = self.connected()
        metrics.VENUE_CONNECTED.labels(self.venue).set(1 if up else 0)
        hb = Heartbeat(
            service=self.owner,
            instance=self.settings.consumer,
            started_ns=0,
            venue=self.venue,
            venue_connected=up,
            detail={**self.venue_detail(), **equity_detail(self.account_equity())},
        )
        self.redis.set(self.names.control("venue", self.venue), pack(hb), px=self.settings.heartbeat_ttl_ms)


def equity_detail(equity: tuple[float, str] | None) -> dict[str, Any]:
    """The heartbeat's equity facts: `equity` and `equity_currency` as the platform gives them, and
    `equity_usd` for a USD account (the router converts another currency at the rate it values that
    currency's exposure with: BRL by the WDO quote, else risk.yaml's fallback)."""
    if equity is None or not math.isfinite(equity[0]):
        return {}
    amount, currency = equity
    out: dict[str, Any] = {"equity": amount, "equity_currency": currency}
    if currency == "USD":
        out["equity_usd"] = amount
    return out
