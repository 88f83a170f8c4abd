"""The fx stage: every normalized fill goes on to nx:fills with `usd_rate` and `fee_usd`.

Input nx:fills:normalized (consumer group "fx"); output nx:fills, each fill under its own message id
(the aggregator dedupes by it). USD fills pass at rate 1. BRL fills convert at USDBRL from the WDO
ticks on nx:md:WDO (or a fixed rate, `NX_FX_SOURCE=fixed`); other currencies at fx.yaml's table.

Guarantee: nothing lost, nothing converted with a stale rate, nothing published twice.

- A fill whose rate is missing, stale (older than NX_FX_MAX_AGE_S) or unknown is *held* (see `hold`,
  the stage's state, owner "fx"), an `fx_stale` (or `fx_unknown_pair`) warning is published once for
  it, and its input is acknowledged.
- Every tick (NX_FX_TICK_INTERVAL_S) reads the newest WDO tick, and publishes the held fills it can
  now convert while removing them from the hold, in one commit. A fill handled while fills are held
  releases them first, so a leg's reports keep their order across the hold.
- The WDO rate is read with XREVRANGE (the newest tick, through `ctx.newest`), not through a consumer
  group: market data is fan-out, every fx instance needs every rate, and the newest tick is there
  right after a restart.
- A fill redelivered after its conversion was committed, at a moment when the rate has gone stale, is
  held again with a warning; its release republishes the same id, a no-op.
"""

from __future__ import annotations

import logging
import time
from functools import cached_property
from typing import Any

import redis

from nexus_gateway.fx.config import FxSettings, load_table
from nexus_gateway.fx.hold import HeldFill, encode_held, held_fills
from nexus_gateway.fx.money import USD, decimal_of, to_usd
from nexus_gateway.fx.rates import BRL, NoRate, Rate, RateBook, usdbrl_from_tick
from nexus_mesh.config_files import check_roots, load_symbols
from nexus_mesh.context import Context
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output
from nexus_mesh.state import Result
from nexus_protocol.codec import Envelope, decode
from nexus_protocol.enums import Severity
from nexus_protocol.errors import DecodeError
from nexus_protocol.messages import DeadLetter, Fill, Message
from nexus_protocol.partitions import Partitions
from nexus_protocol.streams import Names

__all__ = ["FxStage", "build", "convert", "hold_event"]

log = logging.getLogger(__name__)
OWNER = "fx"
_RECENT_ENTRIES = 100  # how far back to look for a tick with a price (depth entries share the stream)


def convert(fill: Fill, rate: Rate) -> Fill:
    """`fill` with `usd_rate` (USD per one unit of its currency) and its fee in USD, to the cent."""
    fee_usd = to_usd(decimal_of(fill.fee), fill.currency, rate.usd_rate)
    return fill.replace(usd_rate=float(rate.usd_rate), fee_usd=float(fee_usd))


def hold_event(env: Envelope[Fill], why: NoRate, ctx: Context) -> Output:
    """The warning that `env`'s fill is held; its id is derived from the fill's, so it is sent once."""
    fill = env.body
    kind = "fx_unknown_pair" if why.reason == "unknown_pair" else "fx_stale"
    return ctx.event(
        kind,
        f"fill {env.id} held: {why.message}; it is converted when a rate is available",
        severity=Severity.WARNING,
        event_id=f"{kind}:{env.id}",
        trace=env.trace,
        symbol=fill.symbol,
        venue=fill.venue,
        signal_id=fill.signal_id,
        client_order_id=fill.client_order_id,
        data={
            "fill_id": env.id,
            "currency": why.currency,
            "pair": why.pair,
            "reason": why.reason,
            "rate_age_s": None if why.age_s is None else round(why.age_s, 3),
            "max_age_s": why.max_age_s,
        },
    )


class FxStage:
    """The handler and the tick of the fx processor, around one RateBook and the hold (its state)."""

    def __init__(self, settings: FxSettings, book: RateBook, parts: Partitions | None = None) -> None:
        self.settings = settings
        self.names: Names = settings.names
        self.parts = parts or Partitions(self.names)
        self.book = book
        self.k_held = self.names.state(OWNER, "held")
        self.md_stream = self.names.md(settings.fx_wdo_symbol)
        self.held_count = 0
        self.ticks = 0
        self._fresh = True  # so a rate already stale at start is reported too (once, by its id)

    def __repr__(self) -> str:
        return f"<FxStage source={self.book.source} usdbrl={self._quote()} held={self.held_count}>"

    # ---- rates -----------------------------------------------------------------------------------

    def refresh(self, ctx: Context) -> bool:
        """Read the newest WDO tick with a price; True if it moved the rate forward."""
        if self.book.source != "wdo":
            return False
        for _entry_id, fields in ctx.newest(self.md_stream, _RECENT_ENTRIES):
            if fields.get(b"type", fields.get("type")) not in (b"tick", "tick"):
                continue  # depth snapshots and updates: not worth decoding
            try:
                seen = usdbrl_from_tick(decode(fields))
            except (DecodeError, ValueError):
                continue
            if seen is not None:
                return self.book.update_usdbrl(*seen)
        return False

    def rate(self, currency: str, now_ns: int, ctx: Context) -> Rate | NoRate:
        """The rate for `currency`; a missing or stale USDBRL is re-read from the stream once first."""
        found = self.book.lookup(currency, now_ns)
        if isinstance(found, NoRate) and found.currency == BRL and self.refresh(ctx):
            found = self.book.lookup(currency, now_ns)
        return found

    def _quote(self) -> str | None:
        r = self.book.usdbrl
        return None if r is None or r.quote is None else str(r.quote)

    # ---- fills -----------------------------------------------------------------------------------

    def handle_fill(self, env: Envelope[Message], ctx: Context) -> Result:
        fill = env.body
        if not isinstance(fill, Fill):
            return Result(
                [
                    ctx.event(
                        "fx_unexpected",
                        f"{env.type} {env.id} on {ctx.stream} is not a fill: dropped",
                        severity=Severity.WARNING,
                        event_id=f"fx_unexpected:{env.id}",
                        trace=env.trace,
                    )
                ]
            )
        fill_env: Envelope[Fill] = env  # type: ignore[assignment]
        now = ctx.now_ns()
        result = Result()
        if fill.currency.upper() != USD:
            result = self._release(ctx, now)  # before this fill: a leg's reports keep their order
        rate = self.rate(fill.currency, now, ctx)
        if isinstance(rate, Rate):
            result.outputs.append(self._converted(env, fill, rate, env.id))
            return result
        held = HeldFill(seq=ctx.entry_id or "0-0", held_ns=now, envelope=env)
        result.writes.hset(self.k_held, held.id, encode_held(held))
        result.outputs.append(hold_event(fill_env, rate, ctx))
        return result

    def _release(self, ctx: Context, now_ns: int) -> Result:
        """The held fills that have a rate now, converted in arrival order and removed from the hold;
        held entries that cannot be decoded are dead-lettered and removed."""
        held, damaged = held_fills(ctx.hgetall(self.k_held))
        result = Result()
        for h in held:
            body = h.envelope.body
            rate = self.book.lookup(body.currency, now_ns) if isinstance(body, Fill) else None
            if isinstance(body, Fill) and isinstance(rate, Rate):
                result.outputs.append(self._converted(h.envelope, body, rate, h.id))
                result.writes.hdel(self.k_held, h.id)
        for field, raw in damaged:
            log.error("held fill %s cannot be decoded: dead-lettered", field)
            body = DeadLetter(
                reason="held fill cannot be decoded",
                stream=self.k_held,
                entry_id=field,
                group=self.settings.service,
                consumer=self.settings.consumer,
                fields={"held": raw},
            )
            result.outputs.append(Output(self.names.dlq, Envelope.new(body, id=f"{self.k_held}/{field}")))
            result.writes.hdel(self.k_held, field)
        self.held_count = len(held) - sum(1 for o in result.outputs if o.stream in self._fills_streams)
        return result

    def _converted(self, env: Envelope[Message], fill: Fill, rate: Rate, id: str) -> Output:
        return Output(self.parts.stream("fills", fill.symbol), env.derive(convert(fill, rate), id=id))

    @cached_property
    def _fills_streams(self) -> frozenset[str]:
        return frozenset(self.parts.streams("fills"))

    # ---- periodic work ---------------------------------------------------------------------------

    def tick(self, ctx: Context) -> Result:
        """Refresh USDBRL, then release what the hold can (published and removed in one commit)."""
        self.refresh(ctx)
        now = ctx.now_ns()
        result = self._release(ctx, now)
        if result.outputs:
            log.info("released %d held fill(s) at USDBRL %s", len(result.outputs), self._quote())
        result.outputs += self._staleness_events(ctx, now)
        self.ticks += 1
        return result

    def _staleness_events(self, ctx: Context, now_ns: int) -> list[Output]:
        """One warning when the market rate goes stale (its id comes from the last rate's time)."""
        rate = self.book.usdbrl
        if rate is None or rate.as_of_ns is None:
            return []
        found = self.book.lookup(BRL, now_ns)
        was_fresh, self._fresh = self._fresh, isinstance(found, Rate)
        if not isinstance(found, NoRate) or not was_fresh:
            return []
        return [
            ctx.event(
                "fx_rate_stale",
                f"USDBRL from {self.md_stream} is stale: {found.message}; "
                "BRL fills are held until a fresh tick",
                severity=Severity.WARNING,
                event_id=f"fx_rate_stale:{rate.as_of_ns}",
                data={"usdbrl": str(rate.quote), "as_of_ns": rate.as_of_ns, "max_age_s": self.book.max_age_s},
            )
        ]

    def detail(self) -> dict[str, Any]:
        """Heartbeat detail: the rate in use, its age, and how many fills wait."""
        rate = self.book.usdbrl
        age = None if rate is None else rate.age_s(time.time_ns())
        return {
            "source": self.book.source,
            "usdbrl": self._quote(),
            "usdbrl_age_s": None if age is None else round(age, 1),
            "held": self.held_count,
            "ticks": self.ticks,
        }


def build(settings: FxSettings, client: redis.Redis) -> StreamProcessor:
    table = load_table(settings.config_dir)
    registry = load_symbols(settings.config_dir)
    if settings.fx_source == "wdo":
        check_roots([settings.fx_wdo_symbol], registry, "NX_FX_WDO_SYMBOL")
    book = RateBook(
        max_age_s=settings.fx_max_age_s,
        usdbrl_source=settings.fx_source,
        fixed_usdbrl=settings.fx_fixed_usdbrl,
        table=table.usd_rates,
    )
    stage = FxStage(settings, book, Partitions.of(settings.names, registry))
    return StreamProcessor(
        settings,
        [Input(s, stage.handle_fill) for s in stage.parts.streams("fills:normalized")],
        client=client,
        tick=stage.tick,
        tick_interval_s=settings.fx_tick_interval_s,
        heartbeat_detail=stage.detail,
        state_owner=OWNER,
    )
