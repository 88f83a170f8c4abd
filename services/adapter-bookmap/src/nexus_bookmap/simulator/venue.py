"""The simulated trading connection behind the Bookmap host: nexus_sim in, Bookmap wire lines out.

Pure and synchronous (no sockets, no threads): the host feeds it the add-on's lines and a timer, and sends
what it returns. An alias is the nexus_sim symbol. What it models of Bookmap (the Java side is in
BookmapAPI/python-api `serverside-rpc`; the provider behaviour follows Bookmap's L0 conventions):
- REQ_DATA is answered with RESP_DATA; DEPTH first sends the whole book (Bookmap's snapshot), then the
  changes each step; TRADE sends the walk's last trade each step; ORDER_INFO replays every order of the
  alias as UPDATE_ORDER (so a restarted add-on learns what happened), POSITION_UPDATE / BALANCE_UPDATE
  send the current state, then again after every fill. A REQ_DATA for an unknown alias gets nothing
  (Bookmap raises an error event that never reaches Python).
- SEND_ORDER: UPDATE_ORDER PENDING_SUBMIT with Bookmap's order id, then WORKING, then for each fill
  EXECUTE_ORDER followed by UPDATE_ORDER (filled/unfilled/averageFillPrice). Prices in orders are real
  prices; sizes are size levels (real size x size multiplier). A stop-limit or an unknown duration is
  REJECTED. On a data-only connection (`can_trade=False`) every order is answered PENDING_SUBMIT then
  REJECTED (unverified against a real data-only Bookmap: there the reason text goes to Bookmap's own
  popup/log, which the Python API does not forward, so the add-on sees a bare REJECTED too).
- Faults: the engine's `Faults` (latency, injected rejects, `disconnect_on(...)`) and `drop_after_accept`:
  the WORKING update of the next accepted order goes out, then the connection drops before anything else
  (its fill included). `take_drop()` tells the host to close the socket; lines lost with it are not
  returned.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nexus_bookmap.simulator import wire
from nexus_bookmap.simulator.wire import T
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_sim import (
    FaultConfig,
    InstrumentSpec,
    Market,
    MatchingConfig,
    MatchingEngine,
    Report,
    ReportKind,
    SimClock,
    SimOrder,
)
from nexus_sim.journal import attach_from_env

log = logging.getLogger("nexus_bookmap.simulator")

_STATUS = {
    OrderStatus.PENDING: "PENDING_SUBMIT",
    OrderStatus.ACCEPTED: "WORKING",
    OrderStatus.PARTIALLY_FILLED: "WORKING",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELLED: "CANCELLED",
    OrderStatus.EXPIRED: "CANCELLED",
    OrderStatus.REJECTED: "REJECTED",
}
_TYPE = {OrderType.MARKET: "MKT", OrderType.LIMIT: "LMT", OrderType.STOP: "STP"}
_DURATION = {"GTC": TimeInForce.GTC, "DAY": TimeInForce.DAY, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}
_NAN = math.nan


@dataclass(frozen=True, kw_only=True, slots=True)
class SimInstrument:
    """One alias as the simulated Bookmap connection offers it."""

    spec: InstrumentSpec
    full_name: str = ""
    size_multiplier: float = 1.0  # size levels per unit of size (Bookmap: inverse of the size step)
    is_crypto: bool = False

    @property
    def alias(self) -> str:
        return self.spec.symbol


class BookmapVenue:
    """Market, matching engine and per-connection subscriptions of one simulated Bookmap."""

    def __init__(
        self,
        instruments: Sequence[SimInstrument],
        *,
        can_trade: bool = True,
        seed: int = 7,
        clock: SimClock | None = None,
        matching: MatchingConfig | None = None,
        faults: FaultConfig | None = None,
    ) -> None:
        if not instruments:
            raise ValueError("at least one instrument")
        self.can_trade = can_trade
        self.market = Market(seed=seed, clock=clock)
        self.instruments = {i.alias: i for i in instruments}
        for inst in instruments:
            self.market.add_instrument(inst.spec)
        self.engine = MatchingEngine(
            self.market, config=matching or MatchingConfig(cash=100_000.0), faults=faults
        )
        self.engine.faults.on_disconnect(self._engine_dropped)
        attach_from_env(self.engine)  # NX_SIM_JOURNAL: what this platform received and filled
        self.drop_after_accept = 0
        self._drop = False
        self._lost = False  # the engine dropped the connection inside the current call
        self._subs: dict[str, set[int]] = {}
        self._books: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
        self._last_trade_ts: dict[str, int] = {}
        self._refused = 0
        self._generated = 0

    def __repr__(self) -> str:
        return f"BookmapVenue(aliases={list(self.instruments)}, can_trade={self.can_trade}, {self.engine!r})"

    @property
    def aliases(self) -> tuple[str, ...]:
        return tuple(self.instruments)

    # -- connection lifecycle --------------------------------------------------------------------------

    def reset_connection(self) -> None:
        """A new add-on connection: no subscriptions, nothing sent yet."""
        self._subs.clear()
        self._books.clear()
        self._drop = False

    def take_drop(self) -> bool:
        """True once after a fault asked for the connection to be dropped."""
        drop, self._drop = self._drop, False
        return drop

    def _engine_dropped(self, event: str) -> None:
        log.info("fault %s: dropping the add-on connection", event)
        self._drop = self._lost = True

    def instrument_info(self, alias: str) -> str:
        inst = self.instruments[alias]
        return wire.instrument_info(
            alias=alias,
            full_name=inst.full_name or alias,
            is_crypto=inst.is_crypto,
            pips=inst.spec.tick_size,
            size_multiplier=inst.size_multiplier,
            instrument_multiplier=inst.spec.point_value,
            features=wire.supported_features(trading=self.can_trade),
        )

    def subscribed(self, alias: str, data_type: int) -> bool:
        return data_type in self._subs.get(alias, ())

    # -- the add-on's requests -------------------------------------------------------------------------

    def on_line(self, text: str) -> list[str]:
        msg = wire.parse(text)
        if isinstance(msg, wire.ReqDataLine):
            return self._subscribe(msg)
        if isinstance(msg, wire.SendOrderLine):
            return self._send_order(msg)
        if isinstance(msg, wire.CancelOrderLine):
            return self._engine_call(lambda: self.engine.cancel(venue_order_id=msg.order_id))
        return []

    def _subscribe(self, req: wire.ReqDataLine) -> list[str]:
        if req.alias not in self.instruments:
            log.warning("REQ_DATA for unknown alias %r", req.alias)
            return []
        self._subs.setdefault(req.alias, set()).add(req.data_type)
        out = [wire.resp_data(req.req_id)]
        if req.data_type == T.DEPTH:
            self._books.pop(req.alias, None)
            out.extend(self._depth(req.alias))
        elif req.data_type == T.ORDER_INFO:
            out[:0] = [self._update(r) for r in self._order_states(req.alias)]
        elif req.data_type == T.POSITION_UPDATE:
            out.append(self._position(req.alias))
        elif req.data_type == T.BALANCE_UPDATE and self.can_trade:
            out.append(self._balance())
        return out

    def _send_order(self, req: wire.SendOrderLine) -> list[str]:
        inst = self.instruments.get(req.alias)
        if inst is None:
            log.warning("SEND_ORDER for unknown alias %r (Bookmap ignores it)", req.alias)
            return []
        client_id = req.client_id
        if client_id is None:
            self._generated += 1
            client_id = f"bm-{self._generated}"
        problem = self._refusal(req)
        size = req.size / inst.size_multiplier
        order_type = (
            OrderType.LIMIT
            if req.limit_price is not None
            else OrderType.STOP
            if req.stop_price is not None
            else OrderType.MARKET
        )
        if problem is not None:
            self._refused += 1
            info: dict[str, Any] = {
                "alias": req.alias,
                "order_id": f"R{self._refused}",
                "is_buy": req.is_buy,
                "order_type": _TYPE[order_type],
                "client_id": client_id,
                "filled": 0,
                "unfilled": req.size,
                "average_fill_price": _NAN,
                "duration": req.duration or "GTC",
                "limit_price": _NAN if req.limit_price is None else req.limit_price,
                "stop_price": _NAN if req.stop_price is None else req.stop_price,
                "stop_triggered": False,
                "time_ms": self.market.clock.now_ns() // 1_000_000,
            }
            log.info("refusing order %s: %s", client_id, problem)
            pending = wire.order_info_update(status="PENDING_SUBMIT", **info)
            rejected = wire.order_info_update(status="REJECTED", changed=("status",), **info)
            return [wire.update_order(pending), wire.update_order(rejected)]
        order = SimOrder(
            client_order_id=client_id,
            symbol=req.alias,
            side=Side.BUY if req.is_buy else Side.SELL,
            quantity=size,
            order_type=order_type,
            limit_price=req.limit_price,
            stop_price=req.stop_price,
            time_in_force=_DURATION[req.duration or "GTC"],
        )
        return self._engine_call(lambda: self.engine.submit(order), pending_first=True)

    def _refusal(self, req: wire.SendOrderLine) -> str | None:
        if not self.can_trade:
            return "trading is not supported on this connection"
        if req.limit_price is not None and req.stop_price is not None:
            return "stop-limit orders are not supported"
        if (req.duration or "GTC") not in _DURATION:
            return f"duration {req.duration} is not supported"
        if req.size <= 0:
            return "size must be positive"
        return None

    # -- time ------------------------------------------------------------------------------------------

    def tick(self) -> list[str]:
        """One market step and one matching step; market data for subscribed aliases, order events."""
        self.market.step()
        out: list[str] = []
        for alias in self.instruments:
            if self.subscribed(alias, T.DEPTH):
                out.extend(self._depth(alias))
            if self.subscribed(alias, T.TRADE):
                out.extend(self._trade(alias))
        out.extend(self._engine_call(self.engine.process))
        return out

    def set_price(self, alias: str, price: float) -> None:
        self.market.set_price(alias, price)

    # -- order reports -> wire -------------------------------------------------------------------------

    def _engine_call(self, call: Any, *, pending_first: bool = False) -> list[str]:
        self._lost = False
        reports: list[Report] = call()
        if self._lost:
            return []  # the connection dropped inside the call: these reports never went out
        out: list[str] = []
        filled: set[str] = set()
        for i, report in enumerate(reports):
            alias = report.symbol
            if alias not in self.instruments or not self.subscribed(alias, T.ORDER_INFO):
                continue
            if i == 0 and pending_first and report.kind is not ReportKind.PENDING_NEW:
                out.append(self._update(report, status="PENDING_SUBMIT"))
            if report.kind is ReportKind.FILL:
                out.append(self._execution(report))
                filled.add(alias)
            out.append(self._update(report))
            if report.kind is ReportKind.NEW and self.drop_after_accept > 0:
                self.drop_after_accept -= 1
                self._drop = True
                log.info("fault drop_after_accept: dropping after order %s", report.client_order_id)
                return out
        for alias in filled:
            if self.subscribed(alias, T.POSITION_UPDATE):
                out.append(self._position(alias))
            if self.subscribed(alias, T.BALANCE_UPDATE):
                out.append(self._balance())
        return out

    def _order_states(self, alias: str) -> list[Report]:
        """Every order of `alias` as a report-shaped snapshot (for the ORDER_INFO replay)."""
        out = []
        for state in self.engine.orders():
            if state.symbol != alias or not state.venue_order_id:
                continue
            o = state.order
            out.append(
                Report(
                    kind=ReportKind.NEW,
                    exec_id="",
                    client_order_id=o.client_order_id,
                    venue_order_id=state.venue_order_id,
                    account=o.account,
                    symbol=o.symbol,
                    side=o.side,
                    order_type=o.order_type,
                    quantity=o.quantity,
                    status=state.status,
                    ts_ns=state.updated_ts_ns,
                    limit_price=o.limit_price,
                    stop_price=o.stop_price,
                    cum_qty=state.cum_qty,
                    avg_price=state.avg_price,
                    leaves_qty=state.leaves_qty,
                )
            )
        return out

    def _update(self, r: Report, *, status: str | None = None) -> str:
        mult = self.instruments[r.symbol].size_multiplier
        venue_id = r.venue_order_id or f"X{r.exec_id}"
        state = self.engine.order_by_venue_id(r.venue_order_id) if r.venue_order_id else None
        pending = status == "PENDING_SUBMIT"
        info = wire.order_info_update(
            alias=r.symbol,
            order_id=venue_id,
            is_buy=r.side is Side.BUY,
            order_type=_TYPE[r.order_type],
            client_id=r.client_order_id,
            filled=0 if pending else round(r.cum_qty * mult),
            unfilled=round((r.quantity if pending else r.leaves_qty) * mult),
            average_fill_price=r.avg_price if r.cum_qty > 0 and not pending else _NAN,
            duration=str(state.order.time_in_force).upper() if state is not None else "GTC",
            status=status or _STATUS[r.status],
            limit_price=_NAN if r.limit_price is None else r.limit_price,
            stop_price=_NAN if r.stop_price is None else r.stop_price,
            stop_triggered=state.triggered if state is not None else False,
            time_ms=r.ts_ns // 1_000_000,
        )
        return wire.update_order(info)

    def _execution(self, r: Report) -> str:
        mult = self.instruments[r.symbol].size_multiplier
        info = wire.execution_info(
            order_id=r.venue_order_id,
            size=round(r.last_qty * mult),
            price=r.last_price,
            execution_id=r.exec_id,
            time_ms=r.ts_ns // 1_000_000,
        )
        return wire.execute_order(r.symbol, info)

    def _position(self, alias: str) -> str:
        mult = self.instruments[alias].size_multiplier
        net = self.engine.net_position(alias)
        positions = [p for p in self.engine.positions() if p.symbol == alias]
        working = {Side.BUY: 0.0, Side.SELL: 0.0}
        for state in self.engine.open_orders(symbol=alias):
            working[state.side] += state.leaves_qty
        volume = sum(f.last_qty for f in self.engine.fills_since() if f.symbol == alias)
        info = wire.status_info(
            alias=alias,
            unrealized_pnl=float(self.engine.unrealized_pnl(alias)),
            realized_pnl=float(self.engine.realized_pnl(alias)),
            currency=self.engine.config.currency,
            position=round(net * mult),
            average_price=positions[0].avg_price if positions else _NAN,
            volume=round(volume * mult),
            working_buys=round(working[Side.BUY] * mult),
            working_sells=round(working[Side.SELL] * mult),
        )
        return wire.position_update(info)

    def _balance(self) -> str:
        acc = self.engine.account_info()
        return wire.balance_update(
            wire.balance_info(
                currency=acc.currency,
                balance=float(acc.balance) if acc.balance is not None else 0.0,
                realized_pnl=float(acc.realized_pnl),
                unrealized_pnl=float(acc.unrealized_pnl),
            )
        )

    # -- market data -> wire ---------------------------------------------------------------------------

    def _depth(self, alias: str) -> list[str]:
        inst = self.instruments[alias]
        spec, mult = inst.spec, inst.size_multiplier
        book = self.market.depth(alias)
        new = (
            {spec.to_ticks(lv.price): round(lv.size * mult) for lv in book.bids},
            {spec.to_ticks(lv.price): round(lv.size * mult) for lv in book.asks},
        )
        old = self._books.get(alias, ({}, {}))
        self._books[alias] = new
        out = []
        for is_bid, before, after in ((True, old[0], new[0]), (False, old[1], new[1])):
            for level in sorted(set(before) | set(after), reverse=is_bid):
                size = after.get(level, 0)
                if before.get(level) != size:
                    out.append(wire.depth(alias, is_bid, level, size))
        return out

    def _trade(self, alias: str) -> list[str]:
        quote = self.market.quote(alias)
        if quote.last_size <= 0 or self._last_trade_ts.get(alias) == quote.ts_ns:
            return []
        self._last_trade_ts[alias] = quote.ts_ns
        inst = self.instruments[alias]
        level = float(inst.spec.to_ticks(quote.last))
        size = round(quote.last_size * inst.size_multiplier)
        return [wire.trade(alias, level, size, is_bid_aggressor=quote.last >= quote.ask)]
