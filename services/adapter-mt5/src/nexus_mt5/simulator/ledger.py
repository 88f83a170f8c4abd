"""The terminal's own records on top of the matching engine: order metadata, deals, position identity.

The engine knows orders by client id and fills as reports; MT5 adds what a reconciling adapter reads:
- every order's request (type, filling, magic, comment), keyed by the engine's venue order id = ticket;
- one `TradeDeal` per fill, with its own ticket sequence, DEAL_ENTRY_IN / OUT / INOUT, the position it
  touched, the realized profit and the commission; the account's opening deposit is the first deal
  (DEAL_TYPE_BALANCE), as on a real account;
- position identity: on a hedging account the engine's ticket (the opening order's ticket); on a
  netting account the ticket of the order that opened the position from flat, kept through partial
  closes and reversals (an INOUT deal keeps the identifier), and a new one after the position was flat.

Orders the venue rejected are forgotten (`order_send` answers order=0 for them, like a trade server that
refuses a request before creating an order), so they never appear in orders or history.

Every report of the engine must pass through `on_report`, in order: deals and netting state are derived
from the sequence of fills, never recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nexus_mt5.simulator import constants as c
from nexus_mt5.simulator.types import TradeDeal, TradeRequest
from nexus_protocol.enums import Side
from nexus_sim import Report, ReportKind

_ZERO = Decimal(0)
_CENT = Decimal("0.01")


def money(value: Decimal) -> float:
    """A money amount as MT5 reports it: a float rounded to the cent."""
    return float(value.quantize(_CENT))


@dataclass(slots=True)
class OrderMeta:
    """What the terminal remembers about one order it sent to the venue."""

    client_id: str  # the engine's client order id (internal; MT5 has no client ids)
    request: TradeRequest
    setup_ns: int
    ticket: int = 0
    position_id: int = 0
    done_ns: int = 0


class Ledger:
    """Order metadata, the deal journal and position identifiers of one terminal."""

    def __init__(self, *, hedging: bool, first_deal_ticket: int, commission_per_lot: float) -> None:
        self.hedging = hedging
        self.commission_per_lot = Decimal(str(commission_per_lot))
        self._next_deal = first_deal_ticket
        self._next_client = 1
        self._by_client: dict[str, OrderMeta] = {}
        self._by_ticket: dict[int, OrderMeta] = {}
        self.deals: list[TradeDeal] = []
        self.commission_total = _ZERO
        self._net: dict[str, Decimal] = {}  # netting: signed quantity per symbol
        self._ident: dict[str, int] = {}  # netting: current position identifier per symbol
        self.position_meta: dict[int, OrderMeta] = {}  # position identifier -> order that opened it

    # -- orders --------------------------------------------------------------------------------------

    def expect(self, request: TradeRequest, now_ns: int) -> OrderMeta:
        """Register an order about to be submitted; its ticket is filled in from the first report."""
        meta = OrderMeta(client_id=f"mt5-{self._next_client}", request=request, setup_ns=now_ns)
        self._next_client += 1
        self._by_client[meta.client_id] = meta
        return meta

    def forget(self, meta: OrderMeta) -> None:
        """The venue rejected (or never received) the order: it does not exist for MT5."""
        self._by_client.pop(meta.client_id, None)
        if meta.ticket:
            self._by_ticket.pop(meta.ticket, None)

    def meta(self, ticket: int) -> OrderMeta | None:
        return self._by_ticket.get(ticket)

    def comment_of(self, client_id: str) -> str:
        """The comment (the gateway's client order id) of the order the engine knows as `client_id`."""
        meta = self._by_client.get(client_id)
        return meta.request.comment if meta is not None else client_id

    def orders(self) -> list[OrderMeta]:
        """Every order the venue accepted, oldest first."""
        return sorted(self._by_ticket.values(), key=lambda m: m.ticket)

    def deals_of(self, ticket: int) -> list[TradeDeal]:
        return [d for d in self.deals if d.order == ticket]

    # -- reports -------------------------------------------------------------------------------------

    def deposit(self, amount: float, now_ns: int) -> None:
        """The balance deal a funded account starts with."""
        self._add_deal(
            TradeDeal(
                order=0,
                time=now_ns // 1_000_000_000,
                time_msc=now_ns // 1_000_000,
                type=c.DEAL_TYPE_BALANCE,
                entry=c.DEAL_ENTRY_IN,
                profit=amount,
                comment="Deposit",
            )
        )

    def on_report(self, report: Report) -> None:
        meta = self._by_client.get(report.client_order_id)
        if meta is None:
            return
        if report.venue_order_id and not meta.ticket:
            meta.ticket = int(report.venue_order_id)
            self._by_ticket[meta.ticket] = meta
        if report.status.terminal and not meta.done_ns:
            meta.done_ns = report.ts_ns
        if report.kind is ReportKind.FILL:
            self._fill(meta, report)

    def _fill(self, meta: OrderMeta, report: Report) -> None:
        qty = Decimal(str(report.last_qty))
        if self.hedging:
            entry, position_id = self._hedging_entry(meta, report)
        else:
            entry, position_id = self._netting_entry(meta, report.symbol, report.side, qty)
        meta.position_id = position_id
        commission = -(self.commission_per_lot * qty).quantize(_CENT)
        self.commission_total += commission
        req = meta.request
        self._add_deal(
            TradeDeal(
                order=meta.ticket,
                time=report.ts_ns // 1_000_000_000,
                time_msc=report.ts_ns // 1_000_000,
                type=c.DEAL_TYPE_BUY if report.side is Side.BUY else c.DEAL_TYPE_SELL,
                entry=entry,
                magic=req.magic,
                position_id=position_id,
                reason=c.DEAL_REASON_EXPERT,
                volume=report.last_qty,
                price=report.last_price,
                commission=float(commission),
                profit=money(report.realized_pnl),
                symbol=report.symbol,
                comment=req.comment,
            )
        )

    def _hedging_entry(self, meta: OrderMeta, report: Report) -> tuple[int, int]:
        ticket = report.position_ticket or meta.ticket
        closing = meta.request.position
        if closing and ticket == closing:
            return c.DEAL_ENTRY_OUT, ticket
        self.position_meta.setdefault(ticket, meta)
        return c.DEAL_ENTRY_IN, ticket

    def _netting_entry(self, meta: OrderMeta, symbol: str, side: Side, qty: Decimal) -> tuple[int, int]:
        before = self._net.get(symbol, _ZERO)
        after = before + qty * side.sign
        self._net[symbol] = after
        if before == 0:
            self._ident[symbol] = meta.ticket
            self.position_meta[meta.ticket] = meta
            return c.DEAL_ENTRY_IN, meta.ticket
        ident = self._ident[symbol]
        if (before > 0) == (side is Side.BUY):
            return c.DEAL_ENTRY_IN, ident
        if after == 0:
            del self._ident[symbol]
            return c.DEAL_ENTRY_OUT, ident
        if (after > 0) == (before > 0):
            return c.DEAL_ENTRY_OUT, ident
        self.position_meta[ident] = meta  # reversed: the new direction belongs to this order
        return c.DEAL_ENTRY_INOUT, ident

    def _add_deal(self, deal: TradeDeal) -> None:
        self.deals.append(deal._replace(ticket=self._next_deal))
        self._next_deal += 1

    # -- positions -----------------------------------------------------------------------------------

    def netting_identifier(self, symbol: str) -> int:
        return self._ident.get(symbol, 0)
