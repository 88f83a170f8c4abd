"""order_send and order_check: MT5 trade requests in, matching-engine orders out, MT5 results back.

Checks run in the order a real terminal and trade server apply them, each with its TRADE_RETCODE:
Algo Trading off (10027, terminal side), unknown symbol or unsupported request (10013), symbol not
tradable (10017), filling mode not allowed for the symbol (10030), expiration type (10022), then the
venue's own checks in the matching engine: volume (10014), price (10015), market closed (10018), margin
(10019), injected rejects (10006 or the armed retcode) and requotes (10004, the price moved).

A request the venue refuses gets order=0 and leaves no order behind. An accepted market order fills in
`fill_parts` deals; `immediate_parts` of them happen inside the call (each further one is a matching
step), so the answer is DONE (10009) when all volume traded, DONE_PARTIAL (10010) when part did
(RETURN filling: the rest stays working and fills on later steps; IOC: the rest is cancelled).
"""

from __future__ import annotations

from decimal import Decimal

from nexus_mt5.simulator import constants as c
from nexus_mt5.simulator.ledger import OrderMeta
from nexus_mt5.simulator.profiles import SymbolSpec
from nexus_mt5.simulator.types import OrderCheckResult, OrderSendResult, TradeDeal, TradeRequest
from nexus_mt5.simulator.venue import Venue
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_sim import RejectReason, Report, ReportKind, SimOrder
from nexus_sim.rules import check_quantity

Refusal = tuple[int, str]

REASON_RETCODE: dict[RejectReason, int] = {
    RejectReason.INVALID_QUANTITY: c.TRADE_RETCODE_INVALID_VOLUME,
    RejectReason.INVALID_PRICE: c.TRADE_RETCODE_INVALID_PRICE,
    RejectReason.PRICE_OUT_OF_BAND: c.TRADE_RETCODE_INVALID_PRICE,
    RejectReason.MARKET_CLOSED: c.TRADE_RETCODE_MARKET_CLOSED,
    RejectReason.INSUFFICIENT_MARGIN: c.TRADE_RETCODE_NO_MONEY,
    RejectReason.REQUOTE: c.TRADE_RETCODE_REQUOTE,
    RejectReason.UNKNOWN_POSITION: c.TRADE_RETCODE_POSITION_CLOSED,
    RejectReason.DUPLICATE_CLIENT_ORDER_ID: c.TRADE_RETCODE_REJECT,
    RejectReason.VENUE_REJECTED: c.TRADE_RETCODE_REJECT,
}

_MARKET_TYPES = {c.ORDER_TYPE_BUY: Side.BUY, c.ORDER_TYPE_SELL: Side.SELL}
_PENDING_TYPES = {
    c.ORDER_TYPE_BUY_LIMIT: (Side.BUY, OrderType.LIMIT),
    c.ORDER_TYPE_SELL_LIMIT: (Side.SELL, OrderType.LIMIT),
    c.ORDER_TYPE_BUY_STOP: (Side.BUY, OrderType.STOP),
    c.ORDER_TYPE_SELL_STOP: (Side.SELL, OrderType.STOP),
}
_FILLING_TIF = {c.ORDER_FILLING_FOK: TimeInForce.FOK, c.ORDER_FILLING_IOC: TimeInForce.IOC}


def _refusal(code: int, detail: str = "") -> Refusal:
    text = c.RETCODE_COMMENT.get(code, "Request rejected")
    return code, f"{text}: {detail}" if detail else text


class Trader:
    """Turns checked `TradeRequest`s into engine calls on a `Venue`."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    # -- order_check ---------------------------------------------------------------------------------

    def check(self, req: TradeRequest) -> OrderCheckResult:
        v = self.venue
        money = v.money()
        base = OrderCheckResult(
            balance=money.balance,
            equity=money.equity,
            profit=money.profit,
            margin=money.margin,
            margin_free=money.margin_free,
            margin_level=money.margin_level,
            request=req,
        )
        refusal = self._precheck(req)
        if refusal is None and req.action in (c.TRADE_ACTION_DEAL, c.TRADE_ACTION_PENDING):
            order = self._order(req, "order-check")
            problem = v.engine.validate(order, v.clock.now_ns())
            if problem is not None:
                refusal = _refusal(REASON_RETCODE.get(problem[0], c.TRADE_RETCODE_INVALID), problem[1])
            else:
                spec, quote = v.market.instrument(order.symbol), v.quote(order.symbol)
                price = (
                    order.limit_price
                    or order.stop_price
                    or (quote.ask if order.side is Side.BUY else quote.bid)
                )
                opening = v.engine.account().opening_qty(
                    order.symbol, order.side, Decimal(str(order.quantity)), order.position_ticket
                )
                margin = Decimal(str(money.margin)) + spec.margin_for(opening, price)
                equity = Decimal(str(money.equity))
                level = equity / margin * 100 if margin else Decimal(0)
                base = base._replace(
                    margin=round(float(margin), 2),
                    margin_free=round(float(equity - margin), 2),
                    margin_level=round(float(level), 2),
                )
        if refusal is not None:
            return base._replace(retcode=refusal[0], comment=refusal[1])
        return base._replace(retcode=0, comment=c.RETCODE_COMMENT[0])

    # -- order_send ----------------------------------------------------------------------------------

    def send(self, req: TradeRequest, request_id: int) -> OrderSendResult:
        refusal = self._precheck(req)
        if refusal is not None:
            return self._result(req, request_id, refusal[0], refusal[1])
        if req.action == c.TRADE_ACTION_REMOVE:
            return self._remove(req, request_id)
        if req.action == c.TRADE_ACTION_MODIFY:
            return self._modify(req, request_id)
        return self._new_order(req, request_id)

    def _precheck(self, req: TradeRequest) -> Refusal | None:
        v = self.venue
        if not v.autotrading:
            return _refusal(c.TRADE_RETCODE_CLIENT_DISABLES_AT)
        if req.action in (c.TRADE_ACTION_REMOVE, c.TRADE_ACTION_MODIFY):
            return None if req.order else _refusal(c.TRADE_RETCODE_INVALID, "no order ticket")
        if req.action not in (c.TRADE_ACTION_DEAL, c.TRADE_ACTION_PENDING):
            return _refusal(c.TRADE_RETCODE_INVALID, f"action {req.action} is not simulated")
        spec = v.spec(req.symbol)
        if spec is None:
            return _refusal(c.TRADE_RETCODE_INVALID, f"unknown symbol {req.symbol!r}")
        if spec.trade_mode == c.SYMBOL_TRADE_MODE_DISABLED:
            return _refusal(c.TRADE_RETCODE_TRADE_DISABLED, f"{spec.name} is not tradable")
        types = _MARKET_TYPES if req.action == c.TRADE_ACTION_DEAL else _PENDING_TYPES
        if req.type not in types:
            return _refusal(c.TRADE_RETCODE_INVALID, f"order type {req.type} with action {req.action}")
        if not self._filling_allowed(spec, req):
            return _refusal(c.TRADE_RETCODE_INVALID_FILL)
        if req.type_time not in (c.ORDER_TIME_GTC, c.ORDER_TIME_DAY):
            return _refusal(c.TRADE_RETCODE_INVALID_EXPIRATION)
        problem = check_quantity(spec.instrument, req.volume)
        if problem is not None:
            return _refusal(c.TRADE_RETCODE_INVALID_VOLUME, problem[1])
        if req.action == c.TRADE_ACTION_PENDING:
            return self._pending_price_problem(spec, req)
        return None

    @staticmethod
    def _filling_allowed(spec: SymbolSpec, req: TradeRequest) -> bool:
        if req.action == c.TRADE_ACTION_PENDING and spec.filling_flags:
            return True  # resting orders on market/instant execution: the filling applies on trigger
        return req.type_filling in spec.allowed_fillings

    def _pending_price_problem(self, spec: SymbolSpec, req: TradeRequest) -> Refusal | None:
        if req.price <= 0:
            return _refusal(c.TRADE_RETCODE_INVALID_PRICE, "pending order needs a price")
        if self.venue.profile.marketable_limits:
            return None
        q = self.venue.quote(spec.name)
        wrong_side = {
            c.ORDER_TYPE_BUY_LIMIT: req.price >= q.ask,
            c.ORDER_TYPE_SELL_LIMIT: req.price <= q.bid,
            c.ORDER_TYPE_BUY_STOP: req.price <= q.ask,
            c.ORDER_TYPE_SELL_STOP: req.price >= q.bid,
        }[req.type]
        if wrong_side:
            return _refusal(
                c.TRADE_RETCODE_INVALID_PRICE, f"{req.price} is on the wrong side of {q.bid}/{q.ask}"
            )
        return None

    def _order(self, req: TradeRequest, client_id: str) -> SimOrder:
        v = self.venue
        spec = v.specs[req.symbol]
        tif = TimeInForce.DAY if req.type_time == c.ORDER_TIME_DAY else TimeInForce.GTC
        position = req.position if v.profile.hedging and req.position else None
        if req.action == c.TRADE_ACTION_DEAL:
            expected, deviation = None, None
            if v.profile.deviation_applies and req.price > 0:
                expected = req.price
                deviation = int(req.deviation * spec.point / spec.tick_size + 1e-9)
            return SimOrder(
                client_order_id=client_id,
                symbol=req.symbol,
                side=_MARKET_TYPES[req.type],
                quantity=req.volume,
                time_in_force=_FILLING_TIF.get(req.type_filling, tif),
                expected_price=expected,
                deviation_ticks=deviation,
                position_ticket=position,
            )
        side, order_type = _PENDING_TYPES[req.type]
        return SimOrder(
            client_order_id=client_id,
            symbol=req.symbol,
            side=side,
            quantity=req.volume,
            order_type=order_type,
            limit_price=req.price if order_type is OrderType.LIMIT else None,
            stop_price=req.price if order_type is OrderType.STOP else None,
            time_in_force=tif,
            position_ticket=position,
        )

    def _new_order(self, req: TradeRequest, request_id: int) -> OrderSendResult:
        v = self.venue
        meta = v.ledger.expect(req, v.clock.now_ns())
        first_deal = len(v.ledger.deals)
        reports = v.absorb(v.engine.submit(self._order(req, meta.client_id)))
        if not reports:  # the request was lost on the way (a before_submit disconnect)
            v.ledger.forget(meta)
            return self._result(req, request_id, c.TRADE_RETCODE_CONNECTION, "No connection")
        rejected = next((r for r in reports if r.kind is ReportKind.REJECTED), None)
        if rejected is not None:
            v.ledger.forget(meta)
            return self._rejected(req, request_id, rejected)
        if req.action == c.TRADE_ACTION_DEAL:
            self._fill_immediately(meta)
        deals = [d for d in v.ledger.deals[first_deal:] if d.order == meta.ticket]
        return self._filled(req, request_id, meta, deals)

    def _fill_immediately(self, meta: OrderMeta) -> None:
        """The further parts of a market order that trade before order_send returns."""
        v = self.venue
        parts = v.immediate_parts if v.immediate_parts is not None else v.engine.config.fill_parts
        for _ in range(parts - 1):
            state = v.engine.order_by_client_id(meta.client_id)
            if state is None or not state.is_open:
                break
            v.process()

    def _filled(
        self, req: TradeRequest, request_id: int, meta: OrderMeta, deals: list[TradeDeal]
    ) -> OrderSendResult:
        v = self.venue
        filled = sum(Decimal(str(d.volume)) for d in deals)
        state = v.engine.order_by_client_id(meta.client_id)
        if deals:
            notional = sum(Decimal(str(d.volume)) * Decimal(str(d.price)) for d in deals)
            price, deal = float(notional / filled), deals[0].ticket
            code = (
                c.TRADE_RETCODE_DONE if filled >= Decimal(str(req.volume)) else c.TRADE_RETCODE_DONE_PARTIAL
            )
            return self._result(
                req, request_id, code, order=meta.ticket, deal=deal, volume=float(filled), price=price
            )
        if state is not None and state.status is OrderStatus.CANCELLED:  # FOK / IOC found nothing
            v.ledger.forget(meta)
            return self._result(req, request_id, c.TRADE_RETCODE_REJECT, f"Request rejected: {state.text}")
        code = v.profile.pending_retcode if req.action == c.TRADE_ACTION_PENDING else c.TRADE_RETCODE_PLACED
        return self._result(req, request_id, code, order=meta.ticket, volume=req.volume)

    def _rejected(self, req: TradeRequest, request_id: int, report: Report) -> OrderSendResult:
        v = self.venue
        reason = report.reason or RejectReason.VENUE_REJECTED
        code = REASON_RETCODE.get(reason, c.TRADE_RETCODE_INVALID)
        comment = _refusal(code, report.text)[1]
        if reason is RejectReason.VENUE_REJECTED and v.faults.last_reject is not None:
            code, comment = v.faults.last_reject
            v.faults.last_reject = None
        if reason is RejectReason.REQUOTE and v.faults.last_requote_move is not None:
            ticks = v.faults.last_requote_move if report.side is Side.BUY else -v.faults.last_requote_move
            v.move(req.symbol, ticks)
            v.faults.last_requote_move = None
        if code == c.TRADE_RETCODE_REQUOTE:
            q = v.quote(req.symbol)
            price = q.ask if report.side is Side.BUY else q.bid
            return self._result(req, request_id, code, c.RETCODE_COMMENT[code], price=price)
        return self._result(req, request_id, code, comment)

    # -- remove / modify -----------------------------------------------------------------------------

    def _remove(self, req: TradeRequest, request_id: int) -> OrderSendResult:
        v = self.venue
        if v.ledger.meta(req.order) is None:
            return self._result(
                req, request_id, *_refusal(c.TRADE_RETCODE_INVALID, f"unknown order {req.order}")
            )
        reports = v.absorb(v.engine.cancel(venue_order_id=str(req.order)))
        if reports and reports[0].kind is ReportKind.CANCELLED:
            return self._result(req, request_id, c.TRADE_RETCODE_DONE, order=req.order)
        text = reports[0].text if reports else "no answer"
        return self._result(req, request_id, *_refusal(c.TRADE_RETCODE_INVALID, text), order=req.order)

    def _modify(self, req: TradeRequest, request_id: int) -> OrderSendResult:
        v = self.venue
        state = v.engine.order_by_venue_id(str(req.order))
        if v.ledger.meta(req.order) is None or state is None:
            return self._result(
                req, request_id, *_refusal(c.TRADE_RETCODE_INVALID, f"unknown order {req.order}")
            )
        if req.price <= 0:
            return self._result(req, request_id, *_refusal(c.TRADE_RETCODE_INVALID_PRICE), order=req.order)
        is_stop = state.order.order_type is OrderType.STOP
        reports = v.absorb(
            v.engine.replace(
                venue_order_id=str(req.order),
                limit_price=None if is_stop else req.price,
                stop_price=req.price if is_stop else None,
            )
        )
        if reports and reports[0].kind is ReportKind.REPLACED:
            return self._result(req, request_id, c.TRADE_RETCODE_DONE, order=req.order)
        reason = (reports[0].reason if reports else None) or RejectReason.VENUE_REJECTED
        code = REASON_RETCODE.get(reason, c.TRADE_RETCODE_INVALID)
        text = reports[0].text if reports else ""
        return self._result(req, request_id, *_refusal(code, text), order=req.order)

    # -- results -------------------------------------------------------------------------------------

    def _result(
        self,
        req: TradeRequest,
        request_id: int,
        retcode: int,
        comment: str | None = None,
        *,
        order: int = 0,
        deal: int = 0,
        volume: float = 0.0,
        price: float = 0.0,
    ) -> OrderSendResult:
        bid = ask = 0.0
        if req.symbol in self.venue.specs:
            q = self.venue.quote(req.symbol)
            bid, ask = q.bid, q.ask
        return OrderSendResult(
            retcode=retcode,
            deal=deal,
            order=order,
            volume=volume,
            price=price,
            bid=bid,
            ask=ask,
            comment=c.RETCODE_COMMENT.get(retcode, "") if comment is None else comment,
            request_id=request_id,
            request=req,
        )
