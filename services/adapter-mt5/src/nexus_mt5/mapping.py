"""Our orders in MetaTrader 5's terms, and every answer of the terminal in ours. Pure: no I/O.

- `constants.RETCODES`: every TRADE_RETCODE in ONE table, code -> (outcome, reason). The outcome says what the
  adapter does: DONE (the request took effect), RETRY_PRICE (not executed: re-send with a fresh price,
  a bounded number of times), RETRY (not executed, transient: re-send after a pause, same bound),
  UNKNOWN (may have taken effect: look the order up by comment, never re-send blindly), REJECT
  (definitive: a rejected report with the reason). A code missing from the table is UNKNOWN.
- `constants.IpcError`: what `last_error()` means when order_send returned None (the request may not even
  have left the terminal): link failures are UNKNOWN, malformed requests are REJECT.
- `build_request`: market -> TRADE_ACTION_DEAL at the current bid/ask with the instance's deviation;
  limit -> TRADE_ACTION_PENDING + ORDER_TYPE_BUY_LIMIT/SELL_LIMIT at the limit price rounded to the
  tick never to a worse price; volume rounded *down* to the symbol's volume_step (never more exposure
  than asked); filling from the symbol's flags; the client order id in the comment (it must fit).
  On a hedging account an order against one of our open positions closes it (`position=`) rather
  than opening an opposite one (`closable_position`).
- `order_reports`: one `VenueReport` per deal (a partial fill is a deal): exec_id = the deal ticket,
  so the same deal read again (after order_send, by the poll, by reconcile, by a lookup after a
  restart) gives the same fill id and dedupes on publish. Cumulative quantity and average price are
  recomputed from the order's deals every time, never accumulated in memory, so they are right after
  any restart. The fee is the deal's commission + swap + fee with the sign flipped (MT5 books costs
  negative; a fill's fee is a cost), in the account currency (BRL on B3). Deal times are the trade
  server's clock; `server_utc_offset_s` turns them into UTC nanoseconds.
- `Marker` (`Reconciliation.marker`): "deal ticket:deal time in ms" of the newest deal reported;
  reconcile re-reads from a while before it (the publish dedupes), so no deal is lost to clock skew.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nexus_mesh.adapter import VenueReport
from nexus_mt5.client import DealRec, OrderRec
from nexus_mt5.config import COMMENT_MAX_LEN
from nexus_mt5.constants import (
    FINAL_STATES,
    IPC_DISCONNECTED,
    IPC_UNKNOWN,
    RETCODES,
    Action,
    ExecMode,
    Filling,
    IpcError,
    Mt5OrderState,
    OrderKind,
    PositionType,
    Retcode,
    RetcodeOutcome,
    SymbolFilling,
    TypeTime,
)
from nexus_protocol.enums import OrderStatus, OrderType, Side, TimeInForce
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder


def outcome(retcode: int) -> RetcodeOutcome:
    try:
        return RETCODES[Retcode(retcode)][0]
    except ValueError:
        return RetcodeOutcome.UNKNOWN  # a code this table does not know: the order may exist; look it up


def reason(retcode: int, comment: str = "") -> str:
    """The reject reason a leg reports: what happened, the terminal's words, the code."""
    try:
        code = Retcode(retcode)
        text = f"{RETCODES[code][1]} (TRADE_RETCODE_{code.name} {retcode})"
    except ValueError:
        text = f"retcode {retcode}"
    return f"{text}: {comment}" if comment else text


def ipc_outcome(code: int) -> RetcodeOutcome:
    """Refusals of the request itself are definitive; anything on the IPC path is unknown."""
    try:
        err = IpcError(code)
    except ValueError:
        return RetcodeOutcome.UNKNOWN
    return RetcodeOutcome.UNKNOWN if err in IPC_UNKNOWN | IPC_DISCONNECTED else RetcodeOutcome.REJECT


# ---- symbols and requests --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolTerms:
    """What `symbol_info` says about sizing, prices and filling."""

    name: str
    volume_min: float
    volume_max: float
    volume_step: float
    tick_size: float
    point: float
    digits: int
    filling_flags: int
    exec_mode: int

    @classmethod
    def of(cls, info: Mapping[str, Any]) -> SymbolTerms:
        digits = int(info.get("digits") or 0)
        point = float(info.get("point") or 10.0**-digits)
        return cls(
            name=str(info["name"]),
            volume_min=float(info.get("volume_min") or 0.0),
            volume_max=float(info.get("volume_max") or 0.0),
            volume_step=float(info.get("volume_step") or 0.0),
            tick_size=float(info.get("trade_tick_size") or point),
            point=point,
            digits=digits,
            filling_flags=int(info.get("filling_mode") or 0),
            exec_mode=int(info.get("trade_exemode") or 0),
        )


def _decimals(step: float) -> int:
    text = f"{step:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def round_volume(requested: float, terms: SymbolTerms) -> float:
    """Down to the volume step (never more exposure than asked); refused outside [min, max]."""
    step = terms.volume_step or terms.volume_min or 1.0
    volume = round(math.floor(requested / step + 1e-9) * step, _decimals(step))
    if volume <= 0 or volume < terms.volume_min - 1e-12:
        raise VenueError(
            f"{requested:g} lots of {terms.name} is below its minimum volume "
            f"{terms.volume_min:g} (step {step:g})",
            code=int(Retcode.INVALID_VOLUME),
        )
    if terms.volume_max and volume > terms.volume_max + 1e-12:
        raise VenueError(
            f"{requested:g} lots of {terms.name} is above its maximum volume {terms.volume_max:g}",
            code=int(Retcode.INVALID_VOLUME),
        )
    return volume


def round_price(price: float, terms: SymbolTerms, side: Side) -> float:
    """A limit price on the tick grid, never worse for us: buys round down, sells round up."""
    tick = terms.tick_size or terms.point
    ticks = price / tick
    n = math.floor(ticks + 1e-9) if side is Side.BUY else math.ceil(ticks - 1e-9)
    return round(n * tick, max(terms.digits, _decimals(tick)))


_PREFERENCE = {"fok": Filling.FOK, "ioc": Filling.IOC, "return": Filling.RETURN}


def choose_filling(terms: SymbolTerms, preference: str, tif: TimeInForce) -> Filling:
    """FOK/IOC where the symbol's flags allow them (CFD brokers), RETURN where they allow neither (B3,
    exchange execution). An order's own IOC/FOK, or a configured mode, wins when the symbol allows it."""
    flags = SymbolFilling(terms.filling_flags & 3)
    allowed = {Filling.RETURN} if not flags or terms.exec_mode == ExecMode.EXCHANGE else set()
    if SymbolFilling.FOK in flags:
        allowed.add(Filling.FOK)
    if SymbolFilling.IOC in flags:
        allowed.add(Filling.IOC)
    wanted = {TimeInForce.FOK: Filling.FOK, TimeInForce.IOC: Filling.IOC}.get(tif)
    if wanted is None:  # (Filling.FOK is 0: test for None, never for truth)
        wanted = _PREFERENCE.get(preference)
    if wanted is not None:
        if wanted not in allowed:
            raise VenueError(
                f"{terms.name} does not allow filling {wanted.name} (symbol flags {int(flags)})",
                code=int(Retcode.INVALID_FILL),
            )
        return wanted
    for mode in (Filling.FOK, Filling.IOC, Filling.RETURN):
        if mode in allowed:
            return mode
    raise VenueError(
        f"{terms.name}: no filling mode allowed (flags {int(flags)})", code=int(Retcode.INVALID_FILL)
    )


def check_comment(client_order_id: str) -> str:
    """The client order id travels in the order comment: it must fit whole, or lookups would miss it."""
    if len(client_order_id) > COMMENT_MAX_LEN:
        raise VenueError(
            f"client order id {client_order_id!r} is {len(client_order_id)} characters; "
            f"the MT5 comment keeps {COMMENT_MAX_LEN}"
        )
    return client_order_id


def build_request(
    order: VenueOrder,
    terms: SymbolTerms,
    *,
    bid: float,
    ask: float,
    magic: int,
    deviation_points: int,
    filling: Filling,
) -> dict[str, Any]:
    """The order_send request for one VenueOrder (market or limit)."""
    volume = round_volume(order.venue_quantity, terms)
    buy = order.side is Side.BUY
    request: dict[str, Any] = {
        "symbol": terms.name,
        "volume": volume,
        "magic": magic,
        "comment": check_comment(order.client_order_id),
        "type_filling": int(filling),
    }
    if order.order_type is OrderType.MARKET:
        price = ask if buy else bid
        if not price or price <= 0:
            raise VenueError(
                f"no {'ask' if buy else 'bid'} for {terms.name}", code=int(Retcode.PRICE_OFF), retryable=False
            )
        request.update(
            action=int(Action.DEAL),
            type=int(OrderKind.BUY if buy else OrderKind.SELL),
            price=price,
            deviation=deviation_points,
            type_time=int(TypeTime.GTC),
        )
        return request
    if order.order_type is OrderType.LIMIT:
        if order.limit_price is None or order.limit_price <= 0:
            raise VenueError("limit order without a limit price")
        request.update(
            action=int(Action.PENDING),
            type=int(OrderKind.BUY_LIMIT if buy else OrderKind.SELL_LIMIT),
            price=round_price(order.limit_price, terms, order.side),
            type_time=int(TypeTime.GTC if order.time_in_force is TimeInForce.GTC else TypeTime.DAY),
        )
        return request
    raise VenueError(f"{order.order_type.value} orders are not supported on MT5 by this adapter")


def closable_position(
    positions: Sequence[Mapping[str, Any]], order: VenueOrder, volume: float, magic: int | None
) -> int | None:
    """On a hedging account: the oldest of our positions (of any magic when `magic` is None) in the
    symbol on the other side that can absorb the whole order (FIFO, which US-regulated brokers
    require), or None (the order opens one)."""
    held = PositionType.SELL if order.side is Side.BUY else PositionType.BUY
    fits = [
        p
        for p in positions
        if p.get("symbol") == order.venue_symbol
        and (magic is None or int(p.get("magic", 0)) == magic)
        and int(p.get("type", -1)) == held
        and float(p.get("volume", 0.0)) >= volume - 1e-9
    ]
    if not fits:
        return None
    oldest = min(fits, key=lambda p: (int(p.get("time_msc", 0)), int(p.get("ticket", 0))))
    return int(oldest["ticket"])


def remove_request(ticket: int, magic: int) -> dict[str, Any]:
    return {"action": int(Action.REMOVE), "order": ticket, "magic": magic}


# ---- what the terminal says, as reports --------------------------------------------------------------

_EPS = 1e-9


def order_reports(
    coid: str, order: OrderRec | None, deals: Sequence[DealRec], *, server_utc_offset_s: int = 0
) -> list[VenueReport]:
    """Everything known about one order: accepted (no fill yet), one report per deal, its final state.

    `order` may be None when only its deals are visible (history not synced yet): fills are still
    reported, as partial until the order says how much it was for."""
    offset_ns = server_utc_offset_s * 1_000_000_000
    ticket = str(order.ticket) if order is not None else (str(deals[0].order) if deals else None)
    wanted = order.volume_initial if order is not None and order.volume_initial > 0 else None
    out: list[VenueReport] = []
    cum = Decimal(0)
    notional = Decimal(0)
    for deal in sorted(deals, key=lambda d: d.ticket):
        qty = Decimal(repr(deal.volume))
        cum += qty
        notional += qty * Decimal(repr(deal.price))
        filled = wanted is not None and float(cum) >= wanted - _EPS
        leaves = 0.0 if wanted is None or filled else max(wanted - float(cum), 0.0)
        out.append(
            VenueReport(
                client_order_id=coid,
                status=OrderStatus.FILLED if filled else OrderStatus.PARTIALLY_FILLED,
                exec_id=str(deal.ticket),
                last_qty=deal.volume,
                last_price=deal.price,
                cum_qty=float(cum),
                avg_price=float(notional / cum),
                leaves_qty=leaves,
                fee=deal.cost,
                venue_order_id=ticket,
                ts_ns=deal.time_msc * 1_000_000 - offset_ns,
            )
        )
    if order is None:
        return out
    avg = float(notional / cum) if cum else None
    state = _state(order.state)
    final = FINAL_STATES.get(state) if state is not None else None
    if final is None:  # still working (placed, partial, or a request in flight)
        if not out:
            out.insert(
                0,
                VenueReport(
                    client_order_id=coid,
                    status=OrderStatus.ACCEPTED,
                    venue_order_id=ticket,
                    leaves_qty=order.volume_current or order.volume_initial,
                    ts_ns=order.time_setup_msc * 1_000_000 - offset_ns,
                ),
            )
        return out
    if final is OrderStatus.FILLED:
        # filled: the last deal says FILLED; if the history has not shown every deal yet, say nothing more
        return out
    out.append(
        VenueReport(
            client_order_id=coid,
            status=final,
            cum_qty=float(cum),
            avg_price=avg,
            leaves_qty=0.0,
            venue_order_id=ticket,
            ts_ns=(order.time_done_msc or order.time_setup_msc) * 1_000_000 - offset_ns,
            reason=f"order {final.value} at the terminal"
            if final is not OrderStatus.REJECTED
            else "rejected at the terminal",
        )
    )
    return out


def accepted(coid: str, ticket: int, volume: float) -> VenueReport:
    return VenueReport(
        client_order_id=coid, status=OrderStatus.ACCEPTED, venue_order_id=str(ticket), leaves_qty=volume
    )


def _state(value: int) -> Mt5OrderState | None:
    try:
        return Mt5OrderState(value)
    except ValueError:
        return None


def net_positions(records: Iterable[Mapping[str, Any]] | None) -> dict[str, float]:
    """Signed volume per symbol. Netting accounts have one position per symbol; hedging accounts one
    per ticket, summed here (a long 2 and a short 1 hold 1)."""
    out: dict[str, Decimal] = {}
    for r in records or ():
        sym = str(r.get("symbol", ""))
        out[sym] = out.get(sym, Decimal(0)) + Decimal(repr(signed_volume(r)))
    return {s: float(v) for s, v in out.items() if v != 0}


def signed_volume(position: Mapping[str, Any]) -> float:
    """A position's volume, negative when it is short."""
    sign = 1 if int(position.get("type", 0)) == PositionType.BUY else -1
    return sign * float(position.get("volume", 0.0))


@dataclass(frozen=True, slots=True)
class Marker:
    """Where fills were reported up to: the newest deal's ticket and its (server) time in ms."""

    ticket: int = 0
    time_msc: int = 0

    @classmethod
    def parse(cls, text: str | None) -> Marker | None:
        if not text:
            return None
        ticket, _, msc = text.partition(":")
        try:
            return cls(int(ticket), int(msc or 0))
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"{self.ticket}:{self.time_msc}"

    def after(self, deal: DealRec) -> Marker:
        """Moved to `deal` if it is newer. A marker without a deal (ticket 0) holds a time from our
        own clock, which may not be the server's: the first deal's server time replaces it."""
        if deal.ticket <= self.ticket:
            return self
        return Marker(deal.ticket, max(deal.time_msc, self.time_msc) if self.ticket else deal.time_msc)
