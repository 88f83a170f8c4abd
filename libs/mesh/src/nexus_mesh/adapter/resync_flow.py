"""Auto-resync on the adapter (NX_AUTO_RESYNC): the steps of `resync` against Redis and the platform.

A difference the drift rule reported (`position_mismatch`) is a candidate while it keeps its figures.
At each position comparison a candidate is decided (`resync.decide`): refused (an event, dropped),
deferred (an event once per reason, tried at the next comparison, scheduled soon), or resynced:
1. the record (`nx:{state:adapter-<venue>}:resync`, per venue symbol) and the rate limit's clock
   (`...:resync_last`, expiring after NX_RESYNC_MIN_INTERVAL_S) are written in one transaction,
   before anything is published;
2. the outside trade's route, synthetic fill and an `outside_trade_booked` event are published;
3. the resync order's route is published and the order goes through the order flow like a leg from
   the stream (intent recorded first, the platform asked before any second send), then a
   `resync_sent` event; the record is marked sent.
A restart finds a record not yet marked sent and does steps 2 and 3 again: every id is derived from
the record, so what was published dedupes and the order is looked up, never sent twice. Once the
order is finished and the platform agrees with the gateway, `resync_completed` (or `resync_failed`,
the order refused: the two agree on the platform's position, the outside trade booked) closes it.

The fill path must be idle (nothing waiting or pending for the normalizer, fx and fills groups) before
a resync: a fill still on its way would otherwise be booked twice, once as the outside trade.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import redis

from nexus_mesh.adapter.drift import RECHECK_S, Drift, Persisting
from nexus_mesh.adapter.intents import IntentState
from nexus_mesh.adapter.resync import ResyncRecord, Verdict, booking, decide, resync_order
from nexus_mesh.connection import as_str
from nexus_mesh.context import Context
from nexus_mesh.publish import Output
from nexus_protocol.enums import Severity
from nexus_protocol.errors import DecodeError
from nexus_protocol.ids import derived_id
from nexus_protocol.partitions import Partitions
from nexus_protocol.symbols import SymbolRegistry

if TYPE_CHECKING:
    from nexus_mesh.adapter.base import Adapter

log = logging.getLogger(__name__)


def fill_path_idle(client: redis.Redis, parts: Partitions) -> bool:
    """Every fill published so far is in the gateway's positions: nothing after the last-delivered id
    and nothing pending in the groups that carry fills there, in any partition (a stream or group
    missing: not idle)."""
    for base, group in (("fills:raw", "normalizer"), ("fills:normalized", "fx"), ("fills", "fills")):
        if not all(_group_idle(client, stream, group) for stream in parts.streams(base)):
            return False
    return True


def _group_idle(client: redis.Redis, stream: str, group: str) -> bool:
    try:
        infos = client.xinfo_groups(stream)
    except redis.ResponseError:
        return False
    info = next((g for g in infos if as_str(g["name"]) == group), None)
    if info is None or int(info["pending"]):
        return False
    # read-only (an adapter may not run scripts on fills:normalized)
    return not client.xrange(stream, min=f"({as_str(info['last-delivered-id'])}", count=1)


class Resyncer:
    def __init__(self, adapter: Adapter) -> None:
        self.a = adapter
        self.key = adapter.names.state(adapter.owner, "resync")
        self.last_key = adapter.names.state(adapter.owner, "resync_last")
        self.wanted: dict[str, Drift] = {}

    @property
    def registry(self) -> SymbolRegistry:
        return self.a.registry

    def step(
        self, ctx: Context, due: list[Persisting], now_differs: dict[str, Drift]
    ) -> tuple[list[Output], float | None]:
        """After a position comparison: records carried on or closed, candidates decided. The outputs
        to publish, and how soon (seconds) the next comparison should come for a deferred candidate."""
        outs: list[Output] = []
        for p in due:
            self.wanted[p.drift.venue_symbol] = p.drift
        records = {as_str(k): ResyncRecord.loads(v) for k, v in self.a.redis.hgetall(self.key).items()}
        for sym, rec in list(records.items()):
            if not rec.sent:  # a restart between the record and its last step: redone, deduped
                outs += self._run(ctx, rec)
            elif self._closed(ctx, rec, now_differs.get(sym), outs):
                del records[sym]
        soonest: float | None = None
        for sym, drift in list(self.wanted.items()):
            if now_differs.get(sym) != drift:
                del self.wanted[sym]  # it changed or went away: a new mismatch starts over
                continue
            if sym in records:
                continue  # a resync of this symbol is still open
            verdict = self._verdict(drift)
            if verdict is None:
                del self.wanted[sym]
                outs += self._start(ctx, drift)
                continue
            outs.append(self._not_now(ctx, drift, verdict))
            if verdict.final:
                del self.wanted[sym]
            else:
                wait = self._wait(verdict)
                soonest = wait if soonest is None else min(soonest, wait)
        return outs, soonest

    def _wait(self, verdict: Verdict) -> float:
        ago = self._last_ago_s()
        if verdict.kind == "rate_limit" and ago is not None:
            return max(RECHECK_S, self.a.settings.resync_min_interval_s - ago)
        return RECHECK_S

    def _last_ago_s(self) -> float | None:
        last = self.a.redis.get(self.last_key)
        return None if last is None else max(0.0, time.time() - int(last) / 1000)

    def _verdict(self, drift: Drift) -> Verdict | None:
        try:
            self.registry.parse(drift.venue_symbol, self.a.venue)
        except DecodeError:
            why = f"{drift.venue_symbol} is not in the symbol registry for {self.a.venue}"
            return Verdict("unknown_symbol", why, final=True)
        state = self.a.killswitch.state()
        return decide(
            drift,
            kill_on=state is not None and state.on,
            last_resync_ago_s=self._last_ago_s(),
            min_interval_s=self.a.settings.resync_min_interval_s,
            fill_path_idle=fill_path_idle(self.a.redis, self.a.parts),
            price=self.a.last_price(drift.venue_symbol),
        )

    def _start(self, ctx: Context, drift: Drift) -> list[Output]:
        price = self.a.last_price(drift.venue_symbol)
        assert price is not None  # decided with it
        rec = ResyncRecord(drift.venue_symbol, drift.gateway, drift.platform, price, time.time_ns())
        pipe = self.a.redis.pipeline(transaction=True)  # one slot: both keys under the adapter's tag
        pipe.hset(self.key, drift.venue_symbol, rec.dumps())
        ms = int(self.a.settings.resync_min_interval_s * 1000)
        pipe.set(self.last_key, rec.ts_ns // 1_000_000, px=ms if ms > 0 else None)
        pipe.execute()
        return self._run(ctx, rec)

    def _run(self, ctx: Context, rec: ResyncRecord) -> list[Output]:
        a, venue, d = self.a, self.a.venue, rec.drift
        order, route, fill = booking(rec, venue, self.registry)
        a.publisher.publish([
            a.route_output(route, route.signal_id),
            a.report_output(fill, order),
            ctx.event(
                "outside_trade_booked",
                f"{venue} {d.venue_symbol}: the platform holds {d.platform}, the gateway {d.gateway}: "
                f"{d.difference:+g} booked as a trade made outside the mesh at {rec.price:g} (the "
                "platform's last quote)",
                severity=Severity.WARNING, event_id=derived_id("outside_booked", order.client_order_id),
                venue=venue, signal_id=order.signal_id, client_order_id=order.client_order_id,
                data=self._data(rec, price=rec.price),
            ),
        ])  # fmt: skip
        rs = resync_order(rec, venue, self.registry)
        a.send_own(rs)
        a.publisher.publish([
            ctx.event(
                "resync_sent",
                f"{venue} {d.venue_symbol}: resync order {rs.side.value} {rs.venue_quantity:g} to bring the "
                f"platform back to the gateway's {d.gateway}",
                severity=Severity.WARNING, event_id=derived_id("resync_sent", rs.client_order_id),
                venue=venue, signal_id=rs.signal_id, client_order_id=rs.client_order_id,
                data=self._data(rec, side=rs.side.value, quantity=rs.venue_quantity,
                                reduce_only=rs.reduce_only),
            )
        ])  # fmt: skip
        a.redis.hset(self.key, rec.venue_symbol, replace(rec, sent=True).dumps())
        return []

    def _closed(self, ctx: Context, rec: ResyncRecord, now: Drift | None, outs: list[Output]) -> bool:
        """The record's outcome reported (and the record dropped) once its order is finished and the
        platform agrees with the gateway; a difference left after it is the drift rule's again."""
        rs = resync_order(rec, self.a.venue, self.registry)
        intent = self.a.intents.get(rs.client_order_id)
        state = intent.state if intent is not None else IntentState.REJECTED
        if state not in (IntentState.DONE, IntentState.REJECTED):
            return False
        if now is not None and state is IntentState.DONE and now.venue_symbol not in self.wanted:
            return False  # its fills may still be on their way: closed once in line or persisting
        ok = state is IntentState.DONE and now is None
        d = rec.drift
        message = (
            f"{self.a.venue} {d.venue_symbol}: back in line at the gateway's {d.gateway}"
            if ok
            else f"{self.a.venue} {d.venue_symbol}: resync order {state.value}; "
            + ("the platform and the gateway agree, with the outside trade booked" if now is None
               else f"platform {now.platform}, gateway {now.gateway} still differ")
        )  # fmt: skip
        outs.append(ctx.event(
            "resync_completed" if ok else "resync_failed", message,
            severity=Severity.INFO if ok else Severity.CRITICAL,
            event_id=derived_id("resync_done", rs.client_order_id), venue=self.a.venue,
            signal_id=rs.signal_id, client_order_id=rs.client_order_id,
            data=self._data(rec, order=state.value, in_line=ok),
        ))  # fmt: skip
        self.a.redis.hdel(self.key, rec.venue_symbol)
        return True

    def _not_now(self, ctx: Context, d: Drift, verdict: Verdict) -> Output:
        kind = "resync_refused" if verdict.final else "resync_deferred"
        figures = (d.venue_symbol, repr(d.gateway), repr(d.platform))
        return ctx.event(
            kind, f"{self.a.venue} {d.venue_symbol}: not resynced{'' if verdict.final else ' yet'}: "
            f"{verdict.reason}",
            severity=Severity.CRITICAL if verdict.final else Severity.WARNING,
            event_id=derived_id(kind, self.a.venue, *figures, verdict.kind),
            venue=self.a.venue, data={**self._drift_data(d), "why": verdict.kind},
        )  # fmt: skip

    @staticmethod
    def _drift_data(d: Drift) -> dict[str, object]:
        return {"venue_symbol": d.venue_symbol, "platform": d.platform, "gateway": d.gateway,
                "difference": round(d.difference, 10)}  # fmt: skip

    def _data(self, rec: ResyncRecord, **more: object) -> dict[str, object]:
        return {**self._drift_data(rec.drift), "decided_ns": rec.ts_ns, **more}
