"""A simulated NinjaTrader ATI folder: watches `incoming/` for `oif*.txt`, trades on nexus_sim, and
writes `outgoing/{ORDER ID}.txt` and position files, as NinjaTrader 8 does.

Like NinjaTrader it consumes (deletes) each command file once read, ignores a PLACE whose ORDER ID it
has seen (and logs it), writes a state file only for orders given an ORDER ID, and writes its own
files atomically so a reader never sees half a line (real NinjaTrader may not: the adapter copes).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from nexus_nt8.ati_client import (
    OifFolder,
    PlaceCommand,
    parse_line,
    place_from_fields,
    position_name,
    state_text,
    write_atomic,
)
from nexus_nt8.simulator.venue import SimPlatform, UnknownInstrument
from nexus_protocol.enums import OrderType, Side, TimeInForce
from nexus_sim import OrderState, Report, SimOrder
from nexus_sim.worker import Worker

log = logging.getLogger(__name__)
_TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "STOPMARKET": OrderType.STOP,
    "STOP": OrderType.STOP,
}
_TIFS = {"DAY": TimeInForce.DAY, "GTC": TimeInForce.GTC}


class AtiSimulator:
    def __init__(
        self,
        root: Path,
        venue: SimPlatform,
        *,
        interval_s: float = 0.02,
        step_interval_s: float = 0.05,
        exchange: str = "Globex",
    ) -> None:
        self.folder = OifFolder(root)
        self.venue = venue
        self.interval_s = interval_s  # how often incoming/ is scanned
        self.step_interval_s = step_interval_s  # how often the market moves and resting orders trade
        self.exchange = exchange
        self.commands = 0  # lines executed
        self.ignored: list[str] = []  # lines refused, with why
        self._rejected: dict[str, str] = {}  # order id -> reason, for orders refused before the engine
        self._worker = Worker(self._run, "ati-sim")
        self._stop = self._worker.stopping
        for d in (self.folder.incoming, self.folder.outgoing):
            d.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"AtiSimulator({self.folder.root}, commands={self.commands}, {self.venue!r})"

    def start(self) -> AtiSimulator:
        self._worker.start()
        return self

    def stop(self) -> None:
        self._worker.stop()

    def set_price(self, instrument: str, price: float) -> None:
        self._write(self.venue.set_price(instrument, price))

    def _run(self) -> None:
        next_step = 0.0
        while not self._stop.wait(self.interval_s):
            try:
                self.scan()
                if time.monotonic() >= next_step:
                    next_step = time.monotonic() + self.step_interval_s
                    self._write(self.venue.step())
            except Exception:
                log.exception("ATI simulator step failed")

    def scan(self) -> None:
        """Execute every waiting command file, oldest first, and delete it."""
        for path in sorted(
            self.folder.incoming.glob("oif*.txt"), key=lambda p: (p.stat().st_mtime_ns, p.name)
        ):
            try:
                text = path.read_text(encoding="utf-8-sig")
                path.unlink()
            except OSError:
                continue
            for line in text.splitlines():
                if line.strip():
                    self._execute(line)

    def _execute(self, line: str) -> None:
        try:
            command, fields = parse_line(line)
        except ValueError as exc:
            self.ignored.append(str(exc))
            return
        self.commands += 1
        if command == "PLACE":
            self._place(place_from_fields(fields))
        elif command == "CANCEL":
            order_id = fields[10]
            if self.venue.order(order_id) is None:
                self.ignored.append(f"CANCEL of unknown order {order_id}")
                return
            self._write(self.venue.cancel(order_id))
        else:
            self.ignored.append(f"{command} is not simulated")

    def _place(self, cmd: PlaceCommand) -> None:
        if not cmd.order_id:
            self.ignored.append("PLACE without ORDER ID: no state file would ever tell")
            return
        if self.venue.order(cmd.order_id) is not None or cmd.order_id in self._rejected:
            self.ignored.append(f"PLACE with a used ORDER ID {cmd.order_id}")
            log.warning("ignoring a second PLACE for order id %s", cmd.order_id)
            return
        try:
            self.venue.ensure(cmd.instrument)
            order = SimOrder(
                client_order_id=cmd.order_id,
                symbol=cmd.instrument,
                side=Side.BUY if cmd.action == "BUY" else Side.SELL,
                quantity=cmd.quantity,
                order_type=_TYPES[cmd.order_type],
                limit_price=cmd.limit_price,
                stop_price=cmd.stop_price,
                time_in_force=_TIFS[cmd.tif],
                account=cmd.account,
            )
        except (UnknownInstrument, KeyError, ValueError) as exc:
            self._rejected[cmd.order_id] = str(exc)
            write_atomic(
                self.folder.outgoing / f"{cmd.order_id}.txt", state_text("REJECTED", 0, 0.0), self.folder.tmp
            )
            return
        self._write(self.venue.submit(order))

    def _write(self, reports: list[Report]) -> None:
        touched = {r.client_order_id for r in reports if r.client_order_id}
        accounts = {r.account for r in reports}
        for coid in sorted(touched):
            state = self.venue.order(coid)
            if state is not None:
                write_atomic(self.folder.outgoing / f"{coid}.txt", _state(state), self.folder.tmp)
        for account in sorted(accounts):
            self._positions(account, {r.symbol for r in reports if r.account == account})

    def _positions(self, account: str, symbols: set[str]) -> None:
        held = {p.symbol: p for p in self.venue.positions(account)}
        for symbol in sorted(symbols):
            p = held.get(symbol)
            side = "FLAT" if p is None or not p.quantity else ("LONG" if p.quantity > 0 else "SHORT")
            qty = 0 if p is None else abs(round(p.quantity))
            text = state_text(side, qty, p.avg_price if p else 0.0)
            write_atomic(
                self.folder.outgoing / position_name(symbol, account, self.exchange), text, self.folder.tmp
            )


def _state(s: OrderState) -> str:
    name = {
        "pending": "SUBMITTED",
        "accepted": "WORKING" if s.cum_qty == 0 else "PARTFILLED",
        "partially_filled": "PARTFILLED",
        "filled": "FILLED",
        "cancelled": "CANCELLED",
        "rejected": "REJECTED",
        "expired": "CANCELLED",
    }[s.status.value]
    return state_text(name, round(s.cum_qty), s.avg_price)
