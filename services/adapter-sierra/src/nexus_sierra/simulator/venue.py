"""The simulated Sierra Chart trading service: DTC requests in, DTC answers out, over nexus_sim.

Synchronous and socket-free: the server (`server.py`) calls it on its event loop, one call at a time.
It owns one `Market` and one `MatchingEngine` (system clock) whose records outlive every client
connection, so a client that reconnects (or an adapter process that restarts) finds the orders and
fills that happened while it was away, exactly as with Sierra Chart.

What it answers like Sierra Chart (DTCProtocol.h 2022): ORDER_UPDATE for every order event (status
and reason per the header's enums, LastFillExecutionID = the engine's exec id), open orders,
positions, historical fills (by ServerOrderID, StartDateTime or NumberOfDays), trade accounts.
Simulator assumptions, not verified against Sierra Chart: OPEN_ORDERS_REQUEST for one ServerOrderID
(RequestAllOrders=0) also answers for a filled, cancelled or rejected order; HISTORICAL_ORDER_FILL
UniqueExecutionID equals the live LastFillExecutionID (`exec_ids=False` sends neither).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from nexus_mesh.config_files import load_symbols
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_sierra.dtc.codec import (
    DBL_MAX,
    AccountBalanceUpdate,
    BuySellEnum,
    HistoricalOrderFillResponse,
    HistoricalOrderFillsRequest,
    MarketDataSnapshot,
    OpenOrdersRequest,
    OrderStatusEnum,
    OrderTypeEnum,
    OrderUpdate,
    OrderUpdateReasonEnum,
    PositionUpdate,
    SubmitNewSingleOrder,
    TimeInForceEnum,
    TradeAccountResponse,
)
from nexus_sim import (
    InstrumentSpec,
    Market,
    MatchingConfig,
    MatchingEngine,
    OrderState,
    Report,
    ReportKind,
    SimOrder,
)
from nexus_sim.journal import attach_from_env

REGISTRY_VENUE = "sierra"
DEFAULT_PRICES = {"NQ": 21000.0, "MNQ": 21000.0, "ES": 6000.0, "MES": 6000.0}
R = OrderUpdateReasonEnum
_STATUS = {
    OrderStatus.PENDING: OrderStatusEnum.PENDING_OPEN,
    OrderStatus.ACCEPTED: OrderStatusEnum.OPEN,
    OrderStatus.PARTIALLY_FILLED: OrderStatusEnum.PARTIALLY_FILLED,
    OrderStatus.FILLED: OrderStatusEnum.FILLED,
    OrderStatus.CANCELLED: OrderStatusEnum.CANCELED,
    OrderStatus.REJECTED: OrderStatusEnum.REJECTED,
    OrderStatus.EXPIRED: OrderStatusEnum.CANCELED,
}
_REASON = {
    ReportKind.PENDING_NEW: R.GENERAL_ORDER_UPDATE,
    ReportKind.NEW: R.NEW_ORDER_ACCEPTED,
    ReportKind.CANCELLED: R.ORDER_CANCELED,
    ReportKind.EXPIRED: R.ORDER_CANCELED,
    ReportKind.REJECTED: R.NEW_ORDER_REJECTED,
    ReportKind.CANCEL_REJECTED: R.ORDER_CANCEL_REJECTED,
    ReportKind.REPLACED: R.ORDER_CANCEL_REPLACE_COMPLETE,
    ReportKind.REPLACE_REJECTED: R.ORDER_CANCEL_REPLACE_REJECTED,
}
_TYPES = {
    OrderTypeEnum.MARKET: OrderType.MARKET,
    OrderTypeEnum.LIMIT: OrderType.LIMIT,
    OrderTypeEnum.STOP: OrderType.STOP,
}
_TIF = {
    TimeInForceEnum.UNSET: TimeInForce.DAY,
    TimeInForceEnum.DAY: TimeInForce.DAY,
    TimeInForceEnum.GOOD_TILL_CANCELED: TimeInForce.GTC,
    TimeInForceEnum.IMMEDIATE_OR_CANCEL: TimeInForce.IOC,
    TimeInForceEnum.FILL_OR_KILL: TimeInForce.FOK,
}
_TIF_BACK = {v: k for k, v in _TIF.items() if k is not TimeInForceEnum.UNSET}
_TYPE_BACK = {v: k for k, v in _TYPES.items()}


def _side(side: Side) -> BuySellEnum:
    return BuySellEnum.BUY if side is Side.BUY else BuySellEnum.SELL


def _s(ts_ns: int) -> int:
    return ts_ns // 1_000_000_000


class SimulatedTradingService:
    def __init__(
        self,
        *,
        accounts: tuple[str, ...] = ("Sim1",),
        config_dir: Path = Path("deploy/config"),
        prices: dict[str, float] | None = None,
        seed: int = 7,
        fill_parts: int = 1,
        step_ticks: int = 1,
        spread_ticks: int = 1,
        exec_ids: bool = True,
        cash: float = 100_000.0,
    ) -> None:
        self.cash = cash  # each account's starting cash, as its balance reports it (no margin check)
        self.symbols = load_symbols(config_dir)
        self.prices = {**DEFAULT_PRICES, **(prices or {})}
        self.market = Market(seed=seed)
        first = time.time_ns() // 1_000_000  # ids unique across simulator restarts, like Sierra's
        self.engine = MatchingEngine(
            self.market,
            config=MatchingConfig(
                fill_parts=fill_parts,
                default_account=accounts[0],
                first_order_id=first,
                first_exec_id=first * 1000,
            ),
        )
        for acc in accounts[1:]:
            self.engine.add_account(acc)
        attach_from_env(self.engine)  # NX_SIM_JOURNAL: what this platform received and filled
        self.step_ticks, self.spread_ticks, self.exec_ids = step_ticks, spread_ticks, exec_ids
        self.submits: Counter[str] = Counter()  # SUBMIT_NEW_SINGLE_ORDER received per ClientOrderID
        self._exchange: dict[str, str] = {}  # the Exchange each order was sent with, echoed back

    # ---- instruments -------------------------------------------------------------------------

    def ensure_instrument(self, symbol: str) -> bool:
        if self.market.has_instrument(symbol):
            return True
        try:
            root, _contract = self.symbols.parse(symbol, REGISTRY_VENUE)
        except Exception:
            return False
        spec, vs = self.symbols.spec(root), self.symbols.venue_spec(root, REGISTRY_VENUE)
        self.market.add_instrument(
            InstrumentSpec(
                symbol=symbol,
                tick_size=spec.tick_size,
                start_price=self.prices.get(root, 100.0),
                spread_ticks=self.spread_ticks,
                step_ticks=self.step_ticks,
                lot_step=vs.lot_step,
                min_qty=vs.min_qty,
                point_value=spec.venue_point_value(REGISTRY_VENUE),
            )
        )
        return True

    def set_price(self, symbol: str, price: float) -> list[OrderUpdate]:
        if not self.ensure_instrument(symbol):
            raise ValueError(f"unknown symbol {symbol!r}")
        self.market.set_price(symbol, price)
        return self._updates(self.engine.process())

    def snapshot(self, symbol_id: int, symbol: str) -> MarketDataSnapshot:
        q = self.market.quote(symbol)
        return MarketDataSnapshot(
            symbol_id=symbol_id,
            bid_price=q.bid,
            ask_price=q.ask,
            bid_quantity=q.bid_size,
            ask_quantity=q.ask_size,
            last_trade_price=q.last,
            last_trade_volume=q.last_size,
            last_trade_date_time_s=q.ts_ns / 1e9,
            bid_ask_date_time_s=q.ts_ns / 1e9,
        )

    # ---- orders ------------------------------------------------------------------------------

    def submit(self, msg: SubmitNewSingleOrder) -> list[OrderUpdate]:
        self.submits[msg.client_order_id] += 1
        self._exchange.setdefault(msg.client_order_id, msg.exchange)
        order_type, tif = _TYPES.get(msg.order_type), _TIF.get(msg.time_in_force)
        if order_type is None or tif is None or msg.buy_sell not in (BuySellEnum.BUY, BuySellEnum.SELL):
            return [
                OrderUpdate(
                    total_num_messages=1,
                    message_number=1,
                    symbol=msg.symbol,
                    client_order_id=msg.client_order_id,
                    order_status=OrderStatusEnum.REJECTED,
                    order_update_reason=R.NEW_ORDER_REJECTED,
                    trade_account=msg.trade_account,
                    info_text=f"unsupported: {msg.order_type.name} "
                    f"{msg.time_in_force.name} {msg.buy_sell.name}",
                )
            ]
        self.ensure_instrument(msg.symbol)  # an unknown symbol stays unknown: the engine rejects it
        return self._updates(
            self.engine.submit(
                SimOrder(
                    client_order_id=msg.client_order_id,
                    symbol=msg.symbol,
                    side=Side.BUY if msg.buy_sell is BuySellEnum.BUY else Side.SELL,
                    quantity=msg.quantity,
                    order_type=order_type,
                    limit_price=msg.price1 if order_type is OrderType.LIMIT else None,
                    stop_price=msg.price1 if order_type is OrderType.STOP else None,
                    time_in_force=tif,
                    account=msg.trade_account or self.engine.config.default_account,
                )
            )
        )

    def cancel(self, server_order_id: str, client_order_id: str) -> list[OrderUpdate]:
        if server_order_id:
            return self._updates(self.engine.cancel(venue_order_id=server_order_id))
        return self._updates(self.engine.cancel(client_order_id))

    def process(self) -> list[OrderUpdate]:
        """One market step and one matching pass."""
        self.market.step()
        return self._updates(self.engine.process())

    def _updates(self, reports: list[Report]) -> list[OrderUpdate]:
        return [self.order_update(r) for r in reports]

    def order_update(self, r: Report) -> OrderUpdate:
        """The live ORDER_UPDATE for one engine report."""
        fill = r.kind is ReportKind.FILL
        reason = (
            (R.ORDER_FILLED if r.status is OrderStatus.FILLED else R.ORDER_FILLED_PARTIALLY)
            if fill
            else _REASON.get(r.kind, R.GENERAL_ORDER_UPDATE)
        )
        return OrderUpdate(
            total_num_messages=1,
            message_number=1,
            symbol=r.symbol,
            exchange=self._exchange.get(r.client_order_id, ""),
            server_order_id=r.venue_order_id,
            client_order_id=r.client_order_id,
            exchange_order_id=f"X{r.venue_order_id}" if r.venue_order_id else "",
            order_status=_STATUS[r.status],
            order_update_reason=reason,
            order_type=_TYPE_BACK.get(r.order_type, OrderTypeEnum.UNSET),
            buy_sell=_side(r.side),
            price1=r.limit_price or r.stop_price or DBL_MAX,
            order_quantity=r.quantity,
            filled_quantity=r.cum_qty,
            remaining_quantity=r.leaves_qty,
            average_fill_price=r.avg_price if r.cum_qty else DBL_MAX,
            last_fill_price=r.last_price if fill else DBL_MAX,
            last_fill_quantity=r.last_qty if fill else DBL_MAX,
            last_fill_date_time_ms=r.ts_ns // 1_000_000 if fill else 0,
            last_fill_execution_id=r.exec_id if fill and self.exec_ids else "",
            trade_account=r.account,
            info_text=r.text[:95],
            latest_transaction_date_time_s=r.ts_ns / 1e9,
        )

    def _state_update(self, s: OrderState, request_id: int, n: int, total: int, reason: R) -> OrderUpdate:
        o = s.order
        return OrderUpdate(
            request_id=request_id,
            total_num_messages=total,
            message_number=n,
            symbol=o.symbol,
            exchange=self._exchange.get(o.client_order_id, ""),
            server_order_id=s.venue_order_id,
            client_order_id=o.client_order_id,
            exchange_order_id=f"X{s.venue_order_id}",
            order_status=_STATUS[s.status],
            order_update_reason=reason,
            order_type=_TYPE_BACK.get(o.order_type, OrderTypeEnum.UNSET),
            buy_sell=_side(o.side),
            price1=o.limit_price or o.stop_price or DBL_MAX,
            time_in_force=_TIF_BACK.get(o.time_in_force, TimeInForceEnum.UNSET),
            order_quantity=o.quantity,
            filled_quantity=s.cum_qty,
            remaining_quantity=s.leaves_qty,
            average_fill_price=s.avg_price if s.cum_qty else DBL_MAX,
            trade_account=o.account,
            info_text=s.text[:95],
            order_received_date_time_ms=s.created_ts_ns // 1_000_000,
            latest_transaction_date_time_s=s.updated_ts_ns / 1e9,
        )

    # ---- requests ----------------------------------------------------------------------------

    def open_orders(self, req: OpenOrdersRequest) -> list[OrderUpdate]:
        acct = req.trade_account or None
        if req.request_all_orders == 0 and req.server_order_id:
            one = self.engine.order_by_venue_id(req.server_order_id)
            states = [one] if one is not None and (acct is None or one.account == acct) else []
        else:
            states = self.engine.open_orders(account=acct)
        if not states:
            return [
                OrderUpdate(
                    request_id=req.request_id,
                    total_num_messages=1,
                    message_number=1,
                    order_update_reason=R.OPEN_ORDERS_REQUEST_RESPONSE,
                    no_orders=True,
                )
            ]
        return [
            self._state_update(s, req.request_id, i, len(states), R.OPEN_ORDERS_REQUEST_RESPONSE)
            for i, s in enumerate(states, 1)
        ]

    def historical_fills(self, req: HistoricalOrderFillsRequest) -> list[HistoricalOrderFillResponse]:
        fills = self.engine.fills_since(account=req.trade_account or None)
        keep: Callable[[Report], bool]
        if req.start_date_time_s > 0:
            keep = lambda f: _s(f.ts_ns) >= req.start_date_time_s  # noqa: E731
        else:
            days = req.number_of_days if req.number_of_days > 0 else 1
            keep = lambda f: _s(f.ts_ns) >= time.time() - days * 86_400  # noqa: E731
        rows = [
            f
            for f in fills
            if keep(f) and (not req.server_order_id or f.venue_order_id == req.server_order_id)
        ]
        if not rows:
            return [
                HistoricalOrderFillResponse(
                    request_id=req.request_id, total_number_messages=1, message_number=1, no_order_fills=True
                )
            ]
        return [
            HistoricalOrderFillResponse(
                request_id=req.request_id,
                total_number_messages=len(rows),
                message_number=i,
                symbol=f.symbol,
                exchange=self._exchange.get(f.client_order_id, ""),
                server_order_id=f.venue_order_id,
                buy_sell=_side(f.side),
                price=f.last_price,
                date_time_s=_s(f.ts_ns),
                quantity=f.last_qty,
                unique_execution_id=f.exec_id if self.exec_ids else "",
                trade_account=f.account,
            )
            for i, f in enumerate(rows, 1)
        ]

    def positions(self, request_id: int, account: str) -> list[PositionUpdate]:
        held = self.engine.positions(account=account or None)
        if not held:
            return [
                PositionUpdate(
                    request_id=request_id, total_number_messages=1, message_number=1, no_positions=True
                )
            ]
        return [
            PositionUpdate(
                request_id=request_id,
                total_number_messages=len(held),
                message_number=i,
                symbol=p.symbol,
                quantity=p.quantity,
                average_price=p.avg_price,
                trade_account=p.account,
                entry_date_time_s=_s(p.opened_ts_ns),
            )
            for i, p in enumerate(held, 1)
        ]

    def balance(self, account: str, request_id: int = 0) -> AccountBalanceUpdate:
        """The account's ACCOUNT_BALANCE_UPDATE: cash (the starting cash plus realized P&L) and open
        P&L at the current quotes; request id 0 is an unsolicited update (after a fill)."""
        info = self.engine.account_info(account or None)
        return AccountBalanceUpdate(
            request_id=request_id, cash_balance=self.cash + float(info.realized_pnl),
            account_currency=info.currency, trade_account=info.account, total_number_messages=1,
            message_number=1, unsolicited=request_id == 0,
            open_positions_profit_loss=float(info.unrealized_pnl),
        )  # fmt: skip

    def fill_accounts(self, updates: list[OrderUpdate]) -> list[str]:
        """The accounts a batch of order updates filled in (their balance changed)."""
        return sorted({u.trade_account for u in updates if 0 < u.last_fill_quantity < DBL_MAX})

    def trade_accounts(self, request_id: int) -> list[TradeAccountResponse]:
        accounts = self.engine.accounts
        return [
            TradeAccountResponse(
                total_number_messages=len(accounts), message_number=i, trade_account=a, request_id=request_id
            )
            for i, a in enumerate(accounts, 1)
        ]

    def stats(self) -> dict[str, object]:
        return {
            "submits": dict(self.submits),
            "orders": [
                {
                    "client_order_id": s.client_order_id,
                    "server_order_id": s.venue_order_id,
                    "status": s.status.value,
                    "quantity": s.quantity,
                    "cum_qty": s.cum_qty,
                }
                for s in self.engine.orders()
            ],
            "fills": [
                {
                    "client_order_id": f.client_order_id,
                    "server_order_id": f.venue_order_id,
                    "qty": f.last_qty,
                    "price": f.last_price,
                    "exec_id": f.exec_id,
                }
                for f in self.engine.fills_since()
            ],
            "positions": {p.symbol: p.quantity for p in self.engine.positions()},
        }
