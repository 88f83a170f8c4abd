"""The normalizer's handlers.

Routed orders and reports are read from every partition of their streams and published to the
partition of their root (nexus_protocol.partitions).

- nx:orders:routed (Order) -> nx:orders:{venue} (VenueOrder): venue symbol of the active contract,
  quantity in the venue's units, the venue's own quote as the leg's reference price. A leg that
  cannot be expressed at the venue (no active contract, below the minimum lot) is rejected: a
  REJECTED fill with the reason goes on nx:fills:normalized and an event on nx:events.
- nx:fills:raw (Fill) -> nx:fills:normalized: root, contract, size factor, point value. A report
  impossible on its own figures (a negative quantity, a "filled" with nothing filled) or of a venue
  symbol the registry does not know is dead-lettered at once, with an event (`fills.checks`).
- nx:md:raw:{venue} (Tick) -> nx:md:{ROOT}: capped, fan-out. The last price per root (from venues
  that trade the universal instrument itself) is kept in `nx:{state:md}:last` for the router's collar.
"""

from __future__ import annotations

import redis

from nexus_gateway.fills.checks import ImpossibleFill, refused_fill, report_problem
from nexus_gateway.normalizer.config import NormalizerSettings
from nexus_gateway.normalizer.translate import Translator
from nexus_mesh.config_files import load_symbols
from nexus_mesh.context import Context
from nexus_mesh.processor import Input, StreamProcessor
from nexus_mesh.publish import Output
from nexus_mesh.state import Result, Writes, whole
from nexus_mesh.venues import load_venues
from nexus_protocol.codec import Envelope
from nexus_protocol.enums import OrderStatus, Severity
from nexus_protocol.errors import DecodeError, Refused
from nexus_protocol.ids import derived_id
from nexus_protocol.messages import Fill, Message, Order, Tick
from nexus_protocol.partitions import Partitions


class Normalizer:
    """The normalizer stage. Handlers read the active contracts (`nx:{contracts}`, read with every
    batch: the rollover service and operators write it) through `ctx`; the venues' last prices are
    this process's own memory, from the ticks it normalizes."""

    def __init__(self, settings: NormalizerSettings, translator: Translator) -> None:
        self.settings = settings
        self.names = settings.names
        self.tr = translator
        self.parts = Partitions.of(self.names, translator.registry)
        self.venue_prices: dict[tuple[str, str], float] = {}  # (venue, venue symbol) -> last price
        self._root_prices: dict[str, float] = {}  # to write to the shared hash on the next tick

    def contracts(self, ctx: Context) -> dict[str, str]:
        return {k: v.decode() for k, v in ctx.hgetall(self.names.contracts).items()}

    def on_order(self, env: Envelope[Message], ctx: Context) -> list[Output]:
        order = env.body
        if not isinstance(order, Order):
            raise TypeError(f"{order.TYPE} does not belong on the routed order stream")
        try:
            venue_order = self.tr.to_venue(order, self.contracts(ctx), None)
        except (DecodeError, Refused) as exc:
            return self._reject(env, order, exc.reason, ctx)
        price = self.venue_prices.get((order.venue, venue_order.venue_symbol))
        if price is not None:
            venue_order = venue_order.replace(venue_reference_price=price)
        return [Output(self.names.orders(order.venue), env.derive(venue_order, id=order.client_order_id))]

    def _reject(self, env: Envelope[Message], order: Order, reason: str, ctx: Context) -> list[Output]:
        fill = Fill(
            fill_id=derived_id(order.client_order_id, OrderStatus.REJECTED.value),
            client_order_id=order.client_order_id,
            signal_id=order.signal_id,
            venue=order.venue,
            status=OrderStatus.REJECTED,
            venue_symbol="",
            side=order.side,
            reason=reason,
            symbol=order.symbol,
        )
        return [
            Output(self.parts.stream("fills:normalized", fill.symbol), env.derive(fill, id=fill.fill_id)),
            ctx.event(
                "leg_rejected",
                f"{order.venue} {order.symbol}: {reason}",
                severity=Severity.WARNING,
                event_id=f"normalizer:{order.client_order_id}",
                trace=order.signal_id,
                symbol=order.symbol,
                venue=order.venue,
                signal_id=order.signal_id,
                client_order_id=order.client_order_id,
            ),
        ]

    def on_fill(self, env: Envelope[Message], ctx: Context) -> list[Output]:
        fill = env.body
        if not isinstance(fill, Fill):
            raise TypeError(f"{fill.TYPE} does not belong on the raw fill stream")
        problem = report_problem(fill)
        if problem is not None:
            raise ImpossibleFill(problem)  # dead-lettered at once; `refused_fill` raises the event
        norm = self.tr.fill(fill)
        return [Output(self.parts.stream("fills:normalized", norm.symbol), env.derive(norm, id=env.id))]

    def on_tick(self, env: Envelope[Message], ctx: Context) -> list[Output]:
        tick = env.body
        if not isinstance(tick, Tick):
            return []
        norm, same_instrument = self.tr.tick(tick)
        price = tick.price
        if price is not None:
            self.venue_prices[(tick.venue, tick.symbol)] = price
            if same_instrument:
                self._root_prices[norm.symbol] = price
        return [
            Output(
                self.names.md(norm.symbol),
                env.derive(norm, id=env.id),
                maxlen=self.settings.md_maxlen,
                idempotent=False,
            )
        ]

    def tick(self, ctx: Context) -> Result:
        """The last price per root, for the router's collar: written at most every tick interval."""
        writes = Writes()
        prices, self._root_prices = self._root_prices, {}
        for root, price in prices.items():
            writes.hset(self.names.state("md", "last"), root, repr(price))
        return Result([], writes)


def build(settings: NormalizerSettings, client: redis.Redis) -> StreamProcessor:
    registry = load_symbols(settings.config_dir)
    venues = load_venues(settings.config_dir, settings.environment, registry)
    norm = Normalizer(settings, Translator(registry))
    names = settings.names
    inputs = [Input(s, norm.on_order) for s in norm.parts.streams("orders:routed")]
    inputs += [Input(s, norm.on_fill, on_dead_letter=refused_fill) for s in norm.parts.streams("fills:raw")]
    inputs += [Input(names.md_raw(v), norm.on_tick, start_id="$", trim=False) for v in venues]
    return StreamProcessor(
        settings,
        inputs,
        client=client,
        tick=norm.tick,
        tick_interval_s=0.1,
        fresh=[whole(settings.names.contracts)],
    )
