"""Read-only views: the venue's state as the MT5 named tuples, and the API's filters.

Times: MT5 reports server time; the simulator's server time is UTC, in whole seconds (`time`) and
milliseconds (`time_msc`). Date arguments may be datetimes (naive ones are taken as UTC, as the
MetaTrader5 documentation recommends creating them in UTC) or seconds since the epoch.

`group` filters follow MT5: comma-separated patterns with `*`, a leading `!` excludes; a symbol is kept
when it matches an including pattern and no excluding one (case-insensitive).
"""

from __future__ import annotations

import calendar
from fnmatch import fnmatchcase
from typing import Any

from nexus_mt5.simulator import constants as c
from nexus_mt5.simulator.ledger import OrderMeta
from nexus_mt5.simulator.profiles import SymbolSpec
from nexus_mt5.simulator.types import (
    AccountInfo,
    MqlTick,
    SymbolInfo,
    TerminalInfo,
    TradeOrder,
    TradePosition,
)
from nexus_mt5.simulator.venue import Venue
from nexus_protocol.enums import OrderStatus, OrderType, Side
from nexus_sim import OrderState, SimPosition

_NS_PER_S = 1_000_000_000
_NS_PER_MS = 1_000_000

ORDER_STATE: dict[OrderStatus, int] = {
    OrderStatus.PENDING: c.ORDER_STATE_STARTED,
    OrderStatus.ACCEPTED: c.ORDER_STATE_PLACED,
    OrderStatus.PARTIALLY_FILLED: c.ORDER_STATE_PARTIAL,
    OrderStatus.FILLED: c.ORDER_STATE_FILLED,
    OrderStatus.CANCELLED: c.ORDER_STATE_CANCELED,
    OrderStatus.REJECTED: c.ORDER_STATE_REJECTED,
    OrderStatus.EXPIRED: c.ORDER_STATE_EXPIRED,
}


def epoch_ms(value: Any) -> int:
    """A date argument (datetime, aware or naive = UTC, or seconds since the epoch) in milliseconds.

    Works on rpyc netrefs to a client's datetime too: only plain attributes and methods are used.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1000)
    if getattr(value, "tzinfo", None) is not None:
        return int(float(value.timestamp()) * 1000)
    fields = (value.year, value.month, value.day, value.hour, value.minute, value.second)
    seconds = calendar.timegm((*(int(f) for f in fields), 0, 0, 0))
    return seconds * 1000 + int(value.microsecond) // 1000


def in_group(symbol: str, group: str | None) -> bool:
    if group is None:
        return True
    patterns = [p.strip().upper() for p in str(group).split(",") if p.strip()]
    name = symbol.upper()
    include = [p for p in patterns if not p.startswith("!")]
    exclude = [p[1:] for p in patterns if p.startswith("!")]
    return any(fnmatchcase(name, p) for p in include) and not any(fnmatchcase(name, p) for p in exclude)


class Views:
    """Builds the API's named tuples from one `Venue`."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    # -- terminal and account ------------------------------------------------------------------------

    def terminal_info(self) -> TerminalInfo:
        p = self.venue.profile
        return TerminalInfo(
            connected=True,
            trade_allowed=self.venue.autotrading,
            build=p.build,
            ping_last=850,
            company=p.company,
            name="MetaTrader 5 (NEXUS simulator)",
            path="C:\\Program Files\\MetaTrader 5",
            data_path="C:\\Program Files\\MetaTrader 5",
            commondata_path="C:\\Users\\sim\\AppData\\Roaming\\MetaQuotes\\Terminal\\Common",
        )

    def account_info(self) -> AccountInfo:
        p, m = self.venue.profile, self.venue.money()
        return AccountInfo(
            login=p.login,
            trade_mode=c.ACCOUNT_TRADE_MODE_DEMO,
            leverage=p.leverage,
            limit_orders=200,
            margin_so_mode=c.ACCOUNT_STOPOUT_MODE_PERCENT,
            trade_allowed=True,
            trade_expert=True,
            margin_mode=p.margin_mode,
            currency_digits=2,
            balance=m.balance,
            profit=m.profit,
            equity=m.equity,
            margin=m.margin,
            margin_free=m.margin_free,
            margin_level=m.margin_level,
            margin_so_call=50.0,
            margin_so_so=30.0,
            name=p.account_name,
            server=p.server,
            currency=p.currency,
            company=p.company,
        )

    # -- symbols -------------------------------------------------------------------------------------

    def symbol_info(self, spec: SymbolSpec) -> SymbolInfo:
        v = self.venue
        q = v.quote(spec.name)
        deals = [d for d in v.ledger.deals if d.symbol == spec.name]
        open_orders = v.engine.open_orders(symbol=spec.name)
        point = spec.point
        return SymbolInfo(
            chart_mode=c.SYMBOL_CHART_MODE_LAST if spec.filling_flags == 0 else c.SYMBOL_CHART_MODE_BID,
            select=spec.name in v.selected,
            visible=spec.name in v.selected,
            session_deals=len(deals),
            session_buy_orders=sum(1 for o in open_orders if o.side is Side.BUY),
            session_sell_orders=sum(1 for o in open_orders if o.side is Side.SELL),
            time=q.ts_ns // _NS_PER_S,
            digits=spec.digits,
            spread=round((q.ask - q.bid) / point),
            ticks_bookdepth=spec.instrument.depth_levels,
            trade_calc_mode=spec.calc_mode,
            trade_mode=spec.trade_mode,
            trade_exemode=spec.exemode,
            expiration_mode=spec.expiration_mode,
            filling_mode=spec.filling_flags,
            order_mode=spec.order_mode,
            bid=q.bid,
            bidhigh=q.bid,
            bidlow=q.bid,
            ask=q.ask,
            askhigh=q.ask,
            asklow=q.ask,
            last=q.last,
            lasthigh=q.last,
            lastlow=q.last,
            point=point,
            trade_tick_value=spec.tick_value,
            trade_tick_value_profit=spec.tick_value,
            trade_tick_value_loss=spec.tick_value,
            trade_tick_size=spec.tick_size,
            trade_contract_size=spec.contract_size,
            volume_min=spec.volume_min,
            volume_max=spec.instrument.max_qty or 0.0,
            volume_step=spec.instrument.lot_step,
            margin_initial=spec.instrument.margin_per_unit,
            session_volume=sum((d.volume for d in deals), 0.0),
            currency_base=spec.currency_base,
            currency_profit=spec.currency_profit,
            currency_margin=spec.currency_margin,
            description=spec.description,
            exchange=spec.exchange,
            name=spec.name,
            path=spec.path,
        )

    def tick(self, symbol: str) -> MqlTick:
        q = self.venue.quote(symbol)
        return MqlTick(
            time=q.ts_ns // _NS_PER_S,
            bid=q.bid,
            ask=q.ask,
            last=q.last,
            volume=int(q.last_size),
            time_msc=q.ts_ns // _NS_PER_MS,
            flags=c.TICK_FLAG_BID | c.TICK_FLAG_ASK,
            volume_real=q.last_size,
        )

    # -- orders, positions ---------------------------------------------------------------------------

    def order(self, meta: OrderMeta, state: OrderState) -> TradeOrder:
        req, o = meta.request, state.order
        q = self.venue.quote(o.symbol)
        if o.order_type is OrderType.LIMIT:
            price_open = o.limit_price or 0.0
        elif o.order_type is OrderType.STOP:
            price_open = o.stop_price or 0.0
        else:
            price_open = state.avg_price or req.price
        return TradeOrder(
            ticket=meta.ticket,
            time_setup=meta.setup_ns // _NS_PER_S,
            time_setup_msc=meta.setup_ns // _NS_PER_MS,
            time_done=meta.done_ns // _NS_PER_S,
            time_done_msc=meta.done_ns // _NS_PER_MS,
            type=req.type,
            type_time=req.type_time,
            type_filling=req.type_filling,
            state=ORDER_STATE[state.status],
            magic=req.magic,
            position_id=meta.position_id,
            reason=c.ORDER_REASON_EXPERT,
            volume_initial=state.quantity,
            volume_current=state.leaves_qty,
            price_open=price_open,
            sl=req.sl,
            tp=req.tp,
            price_current=q.ask if o.side is Side.BUY else q.bid,
            symbol=o.symbol,
            comment=req.comment,
        )

    def orders(self, *, active: bool) -> list[tuple[OrderMeta, TradeOrder]]:
        """Working orders (`active`) or finished ones (history), oldest first."""
        out = []
        for meta in self.venue.ledger.orders():
            state = self.venue.engine.order_by_client_id(meta.client_id)
            if state is None or state.status is OrderStatus.REJECTED or state.is_open != active:
                continue
            out.append((meta, self.order(meta, state)))
        return out

    def position(self, p: SimPosition) -> TradePosition:
        v = self.venue
        ident = p.ticket if p.ticket is not None else v.ledger.netting_identifier(p.symbol)
        meta = v.ledger.position_meta.get(ident)
        q = v.quote(p.symbol)
        return TradePosition(
            ticket=ident,
            time=p.opened_ts_ns // _NS_PER_S,
            time_msc=p.opened_ts_ns // _NS_PER_MS,
            time_update=p.updated_ts_ns // _NS_PER_S,
            time_update_msc=p.updated_ts_ns // _NS_PER_MS,
            type=c.POSITION_TYPE_BUY if p.quantity > 0 else c.POSITION_TYPE_SELL,
            magic=meta.request.magic if meta else 0,
            identifier=ident,
            reason=c.POSITION_REASON_EXPERT,
            volume=abs(p.quantity),
            price_open=p.avg_price,
            price_current=q.bid if p.quantity > 0 else q.ask,
            profit=v.position_profit(p),
            symbol=p.symbol,
            comment=meta.request.comment if meta else "",
        )

    def positions(self) -> list[TradePosition]:
        return [self.position(p) for p in self.venue.engine.positions()]
