"""The MetaTrader 5 adapter: the adapter base (`nexus_mesh.adapter`) over one terminal and account.

One process per terminal (mt5-global: CFDs in USD on a hedging account; mt5-brazil: B3 mini futures
in BRL on a netting account), the same code for both: what differs is read from the terminal
(symbol terms, filling flags, account currency and margin mode) or set per instance (magic number,
deviation, filling preference).

What it adds to the base's guarantees (intent before send, lookup on redelivery, unknown outcomes,
reconcile on every reconnect, deterministic fill ids):
- No order twice: the client order id travels in the order comment and the instance's magic number
  marks its orders; `lookup` asks the terminal (open orders, order history, deals) before anything is
  re-sent. A requote or a price change re-sends the same request with a fresh price, a bounded number
  of times: the terminal answered that nothing was executed. A dropped link or a timeout during
  order_send is an unknown outcome, resolved by that lookup once the link is back.
- No fill lost or doubled: one report per deal (exec id = deal ticket), read from the terminal's deal
  history right after order_send, then by the poll for deals made later (resting limits, B3 partial
  fills that keep working), and by reconcile after a restart from the marker (newest deal reported)
  minus an overlap. Re-reading a deal is harmless: its fill id dedupes on publish.
- MarketWatch data: symbol_info_tick of the instance's symbols on each poll -> nx:md:raw:{venue}.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import redis

from nexus_mesh.adapter import (
    Adapter,
    HeldPosition,
    Reconciliation,
    UnknownOutcome,
    VenueReport,
    held,
)
from nexus_mt5 import mapping as m
from nexus_mt5.client import ApiTerminal, OrderRec, Record, TerminalLinkError, open_terminal
from nexus_mt5.config import Mt5Settings
from nexus_mt5.constants import Action, MarginMode, Mt5OrderState, RetcodeOutcome
from nexus_mt5.history import History
from nexus_mt5.mapping import Marker, accepted, net_positions, signed_volume
from nexus_mt5.market import MarketWatch
from nexus_mt5.tracker import Tracker
from nexus_protocol.enums import OrderStatus, OrderType
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder

log = logging.getLogger(__name__)


class Mt5Adapter(Adapter):
    settings: Mt5Settings

    def __init__(
        self,
        settings: Mt5Settings,
        client: redis.Redis,
        terminal_factory: Callable[[Mt5Settings], ApiTerminal] = open_terminal,
    ) -> None:
        super().__init__(settings, client)
        self._factory = terminal_factory
        self.terminal: ApiTerminal | None = None
        self.history: History | None = None
        self.magic = settings.magic
        self.account: Record = {}
        self.market = MarketWatch(settings, self.registry, client, self.names, self._term)
        self.tracker = Tracker(self.magic)
        self._trade_server_up = False
        self._next_open = 0.0
        self._backoff_s = 0.0
        self._next_poll = 0.0
        self._next_md = 0.0
        self._next_account = 0.0
        self.sent = self.resends = 0

    def __repr__(self) -> str:
        return (
            f"<Mt5Adapter {self.venue} magic={self.magic} {self.terminal!r} sent={self.sent} "
            f"resends={self.resends} {self.tracker!r}>"
        )

    # ---- link -----------------------------------------------------------------------------------

    def connect(self) -> None:
        if self.terminal is None or not self.terminal.up:
            now = time.monotonic()
            if now < self._next_open:  # never hammer a terminal (or a broker's login) every tick
                raise VenueError(
                    f"{self.venue}: next connection attempt in {self._next_open - now:.1f}s", retryable=True
                )
            self._backoff_s = (
                min(self._backoff_s * 2, self.settings.mt5_reconnect_max_s) if self._backoff_s else 0.5
            )
            self._next_open = now + self._backoff_s
            self._open()
            self._backoff_s = 0.0
        info = self._term().terminal_info() or {}
        self._trade_server_up = bool(info.get("connected", False))
        if not self._trade_server_up:
            raise VenueError(
                f"{self.venue}: the terminal has no connection to its trade server", retryable=True
            )

    def _open(self) -> None:
        self._drop()
        s = self.settings
        term = self._factory(s)  # TerminalLinkError (an OSError) when the bridge cannot be reached
        try:
            if not term.initialize(
                path=s.mt5_path,
                login=s.mt5_login,
                password=s.password,
                server=s.mt5_server,
                timeout_ms=s.mt5_initialize_timeout_ms,
            ):
                code, text = term.last_error()
                raise VenueError(f"{self.venue}: initialize failed: {text}", code=code, retryable=True)
            account = term.account_info() or {}
            if s.mt5_login is not None and int(account.get("login", 0)) != s.mt5_login:
                raise VenueError(
                    f"{self.venue}: the terminal is logged in to {account.get('login')}, not {s.mt5_login}",
                    retryable=True,
                )
            info = term.terminal_info() or {}
        except BaseException:
            term.close()
            raise
        self.terminal, self.account = term, account
        self.history = History(
            term,
            magic=self.magic,
            history_days=s.mt5_history_days,
            server_utc_offset_s=s.mt5_server_utc_offset_s,
        )
        self.market.reset()
        if not info.get("trade_allowed", True):
            log.warning(
                "%s: Algo Trading is off in the terminal: orders will be rejected (10027)", self.venue
            )
        log.info(
            "%s: terminal %r, account %s on %s (%s, margin mode %s), magic %d",
            self.venue,
            term,
            account.get("login"),
            account.get("server"),
            account.get("currency"),
            account.get("margin_mode"),
            self.magic,
        )

    def account_equity(self) -> tuple[float, str] | None:
        """account_info's equity in the account's currency (a B3 account's BRL the router converts)."""
        equity, currency = self.account.get("equity"), self.account.get("currency")
        if isinstance(equity, int | float) and isinstance(currency, str) and currency:
            return float(equity), currency
        return None

    @property
    def hedging(self) -> bool:
        return int(self.account.get("margin_mode", -1)) == MarginMode.RETAIL_HEDGING

    def _drop(self) -> None:
        if self.terminal is not None:
            self.terminal.close()
        self.terminal = self.history = None
        self._trade_server_up = False

    def connected(self) -> bool:
        return self.terminal is not None and self.terminal.up and self._trade_server_up

    def close(self) -> None:
        self._drop()

    def _term(self) -> ApiTerminal:
        if self.terminal is None or not self.terminal.up:
            raise TerminalLinkError(f"{self.venue}: no terminal link")
        return self.terminal

    def _history(self) -> History:
        self._term()
        assert self.history is not None
        return self.history

    # ---- orders ---------------------------------------------------------------------------------

    def submit(self, order: VenueOrder) -> list[VenueReport]:
        term = self._term()
        resends = 0
        while True:
            request = self._request(order)
            self.sent += 1
            try:
                result = term.order_send(request)
            except TerminalLinkError as exc:
                raise UnknownOutcome(f"order_send {order.client_order_id}: {exc}") from exc
            self._fault_kill_after_send()
            if result is None:
                code, text = term.last_error()
                if m.ipc_outcome(code) is RetcodeOutcome.UNKNOWN:
                    raise UnknownOutcome(f"order_send {order.client_order_id}: last_error {code} {text}")
                raise VenueError(f"the terminal refused the request: {text}", code=code)
            code, comment = int(result.get("retcode", 0)), str(result.get("comment", ""))
            what = m.outcome(code)
            if what is RetcodeOutcome.DONE:
                return self._placed(order, result, request)
            if (
                what in (RetcodeOutcome.RETRY_PRICE, RetcodeOutcome.RETRY)
                and resends < self.settings.mt5_max_requotes
            ):
                resends += 1
                self.resends += 1
                log.info(
                    "%s: %s %s; re-sending (%d/%d)",
                    self.venue,
                    order.client_order_id,
                    m.reason(code),
                    resends,
                    self.settings.mt5_max_requotes,
                )
                time.sleep(self.settings.mt5_retry_pause_ms / 1000)
                continue
            if what is RetcodeOutcome.UNKNOWN:
                raise UnknownOutcome(f"order_send {order.client_order_id}: {m.reason(code, comment)}")
            text = m.reason(code, comment)
            raise VenueError(f"{text} (after {resends} re-sends)" if resends else text, code=code)

    def _request(self, order: VenueOrder) -> dict[str, Any]:
        """The order_send request with a fresh price. The link failing here means nothing was sent."""
        try:
            terms = self.market.terms(order.venue_symbol)
            filling = m.choose_filling(terms, self.settings.mt5_filling, order.time_in_force)
            market = order.order_type is OrderType.MARKET
            bid, ask = self.market.bid_ask(terms.name) if market else (0.0, 0.0)
            request = m.build_request(
                order,
                terms,
                bid=bid,
                ask=ask,
                magic=self.magic,
                filling=filling,
                deviation_points=self.settings.mt5_deviation_points,
            )
            # the kill switch and a resync close any position, ours or one opened at the terminal
            closing = order.purpose in ("flatten", "resync")
            if self.hedging and (self.settings.mt5_hedging_close or closing):
                positions = self._term().positions_get(symbol=terms.name) or []
                ticket = m.closable_position(
                    positions, order, request["volume"], None if closing else self.magic
                )
                if ticket is not None:
                    request["position"] = ticket
        except TerminalLinkError as exc:
            raise VenueError(f"not sent: the terminal link failed while preparing it ({exc})") from exc
        if request["volume"] != order.venue_quantity:
            log.warning(
                "%s: %s %g lots rounded down to %g (volume step %g)",
                self.venue,
                order.client_order_id,
                order.venue_quantity,
                request["volume"],
                terms.volume_step,
            )
        return request

    def _placed(self, order: VenueOrder, result: Record, request: dict[str, Any]) -> list[VenueReport]:
        """The terminal took the order: its deals, waiting briefly for them to reach the history."""
        coid, ticket = order.client_order_id, int(result.get("order", 0))
        if not ticket:
            raise UnknownOutcome(
                f"order_send {coid} answered {result.get('retcode')} without an order ticket"
            )
        h = self._history()
        h.remember(ticket, coid)
        volume = float(request["volume"])
        asked = OrderRec(
            ticket=ticket,
            symbol=str(request["symbol"]),
            state=int(Mt5OrderState.STARTED),
            magic=self.magic,
            volume_initial=volume,
            volume_current=volume,
            comment=coid,
            time_setup_msc=0,
            time_done_msc=0,
        )
        deal, done_qty = int(result.get("deal", 0)), float(result.get("volume", 0.0))
        market = request["action"] == Action.DEAL
        deadline = time.monotonic() + self.settings.mt5_deal_wait_ms / 1000
        while True:
            rec = h.order(ticket) or asked  # the history may not show it yet: it is what we asked for
            reports, covered = h.reports(coid, rec)
            got = sum(r.last_qty for r in reports if r.is_fill)
            if (
                (not deal or deal in covered) and (not market or got >= done_qty - 1e-9)
            ) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.tracker.note(coid, rec, covered)
        return [accepted(coid, ticket, volume), *(r for r in reports if r.status is not OrderStatus.ACCEPTED)]

    def cancel(self, client_order_id: str) -> list[VenueReport]:
        h, term = self._history(), self._term()
        working = [o for o in h.find(client_order_id) if o.working]
        if not working:
            return self.lookup(client_order_id) or []
        out: list[VenueReport] = []
        for o in working:
            result = term.order_send(m.remove_request(o.ticket, self.magic)) or {}
            code = int(result.get("retcode", 0))
            removed = m.outcome(code) is RetcodeOutcome.DONE
            rec = h.order(o.ticket) or o
            reports, covered = h.reports(client_order_id, rec)
            if removed and rec.working:  # the history has not caught up yet
                cum = sum(r.last_qty for r in reports if r.is_fill)
                reports.append(
                    VenueReport(
                        client_order_id=client_order_id,
                        status=OrderStatus.CANCELLED,
                        cum_qty=cum,
                        leaves_qty=0.0,
                        venue_order_id=str(o.ticket),
                    )
                )
                rec = OrderRec(**{**_fields(rec), "state": int(Mt5OrderState.CANCELED)})
            elif not removed:
                log.warning(
                    "%s: cancel %s (order %d): %s",
                    self.venue,
                    client_order_id,
                    o.ticket,
                    m.reason(code, str(result.get("comment", ""))),
                )
            self.tracker.note(client_order_id, rec, covered)
            out += reports
        return out

    def lookup(self, client_order_id: str) -> list[VenueReport] | None:
        found = self.tracker.lookup(self._history(), client_order_id)
        if found is not None and len({r.venue_order_id for r in found}) > 1:
            log.error("%s: more than one order at the terminal carries %s", self.venue, client_order_id)
        return found

    def open_orders(self) -> list[str]:
        h = self._history()
        return sorted({c for o in h.open_orders() if (c := h.coid_of(o)) is not None})

    # ---- reconciliation and polling -------------------------------------------------------------

    def reconcile(self, since: str | None) -> Reconciliation:
        rec = self.tracker.reconcile(self._history(), Marker.parse(since), self.settings.mt5_overlap_s)
        positions = net_positions(self._term().positions_get())
        return Reconciliation(
            open_orders=rec.working,
            reports=rec.done,
            positions=positions,
            marker=str(rec.marker) if rec.marker.ticket else since,
        )

    def flatten(self) -> list[HeldPosition]:
        """Every position of the account; on a hedging account one per ticket, oldest first (each is
        closed by its own order against that ticket, see `_request`)."""
        records = self._term().positions_get() or []
        if not self.hedging:
            return held(net_positions(records))
        return [
            HeldPosition(str(r.get("symbol", "")), signed_volume(r), key=str(r.get("ticket", "")))
            for r in sorted(records, key=lambda r: (int(r.get("time_msc", 0)), int(r.get("ticket", 0))))
        ]

    def poll(self) -> None:
        """New deals and order states (every NX_MT5_POLL_INTERVAL_S), quotes (every NX_MT5_MD_INTERVAL_S),
        the account's figures (every NX_MT5_ACCOUNT_INTERVAL_S)."""
        if not self.connected():
            return
        now = time.monotonic()
        try:
            if now >= self._next_poll:
                self._next_poll = now + self.settings.mt5_poll_interval_s
                self._poll_trading()
            if now >= self._next_account:
                self._next_account = now + self.settings.mt5_account_interval_s
                self.account = self._term().account_info() or self.account
            if now >= self._next_md:
                self._next_md = now + self.settings.mt5_md_interval_s
                for tick in self.market.ticks():
                    self.emit_tick(tick)
        except TerminalLinkError as exc:
            log.warning("%s: terminal link lost while polling (%s); reconnecting", self.venue, exc)

    def _poll_trading(self) -> None:
        info = self._term().terminal_info() or {}
        self._trade_server_up = bool(info.get("connected", False))
        reports, moved = self.tracker.poll(self._history())
        published = self.emit_reports(reports)  # True: everything emitted so far reached Redis
        cursor = self.tracker.cursor
        if moved and cursor is not None and cursor.ticket and published:
            self.intents.set_marker(str(cursor))

    # ---- fault injection (chaos tests) ----------------------------------------------------------

    def _fault_kill_after_send(self) -> None:
        if self.settings.mt5_fault_kill_after_send:
            log.warning("fault injection: SIGKILL right after order_send returned")
            os.kill(os.getpid(), signal.SIGKILL)


def _fields(rec: OrderRec) -> dict[str, Any]:
    return {f: getattr(rec, f) for f in OrderRec.__slots__}
