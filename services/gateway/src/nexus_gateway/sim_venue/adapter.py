"""The `sim` venue: the adapter base over an in-process nexus_sim engine.

It plays any venue name (NX_VENUE=nt8 makes it a simulated NinjaTrader), fills market orders at
once against its own quotes (zero latency unless NX_SIM_LATENCY_MS), rests limit orders, emits
ticks for the active contracts, and takes prices from a control hash so tests and the demo can
move its market: `HSET nx:{control}:sim:{venue}:prices NQ 21000`.
The engine lives in this process: a SIGKILL loses the venue too. Adapters whose platform survives
them (MT5, DTC, NT8) prove the restart guarantees; this one proves the gateway's flows.
"""

from __future__ import annotations

import threading
import time

import redis

from nexus_gateway.sim_venue.config import SimMarketConfig, SimVenueSettings
from nexus_gateway.sim_venue.mapping import engine_order, reports, tick
from nexus_mesh.adapter import Adapter, HeldPosition, Reconciliation, VenueReport, held
from nexus_mesh.config_files import load_model, load_symbols
from nexus_mesh.connection import as_str
from nexus_protocol.enums import OrderStatus
from nexus_protocol.errors import VenueError
from nexus_protocol.messages import VenueOrder
from nexus_protocol.symbols import Contract
from nexus_sim import InstrumentSpec, Market, MatchingConfig, MatchingEngine, Report
from nexus_sim.journal import attach_from_env


class SimVenue(Adapter):
    settings: SimVenueSettings

    def __init__(self, settings: SimVenueSettings, client: redis.Redis) -> None:
        super().__init__(settings, client)
        self.symbols = load_symbols(settings.config_dir)
        self.market_cfg = load_model(settings.config_dir / "sim.yaml", SimMarketConfig)
        self.market = Market(seed=self.market_cfg.seed)
        parts = settings.sim_fill_parts or self.market_cfg.fill_parts
        self.engine = MatchingEngine(self.market, config=MatchingConfig(fill_parts=parts))
        attach_from_env(self.engine)  # NX_SIM_JOURNAL: what this venue received and filled
        self._lock = threading.RLock()  # the engine is single-threaded; the md thread shares it
        self._prices_key = self.names.control("sim", self.venue, "prices")
        self._next_md = 0.0

    # ---- the platform part ----------------------------------------------------------------------

    def connect(self) -> None:
        pass

    def connected(self) -> bool:
        return True

    def account_equity(self) -> tuple[float, str] | None:
        equity = self.settings.sim_equity_usd
        return None if equity is None else (equity, "USD")

    def submit(self, order: VenueOrder) -> list[VenueReport]:
        if self.settings.sim_latency_ms:
            time.sleep(self.settings.sim_latency_ms / 1000)
        with self._lock:
            self._ensure_instrument(order.venue_symbol)
            crossed = self._apply_control_prices()  # resting orders the new price reached
            done = crossed + self.engine.submit(engine_order(order))
        return reports(done)

    def cancel(self, client_order_id: str) -> list[VenueReport]:
        with self._lock:
            return reports(self.engine.cancel(client_order_id))

    def lookup(self, client_order_id: str) -> list[VenueReport] | None:
        with self._lock:
            state = self.engine.order_by_client_id(client_order_id)
            if state is None:
                return None
            fills = [r for r in self.engine.fills_since() if r.client_order_id == client_order_id]
        out = reports(fills)
        if not out:
            out.append(
                VenueReport(
                    client_order_id=client_order_id,
                    status=state.status,
                    venue_order_id=state.venue_order_id,
                    leaves_qty=state.leaves_qty,
                )
            )
        return out

    def reconcile(self, since: str | None) -> Reconciliation:
        with self._lock:
            fills = self.engine.fills_since(exec_id=since) if since else self.engine.fills_since()
            open_orders = self.engine.open_orders()
            positions = {p.symbol: p.quantity for p in self.engine.positions()}
        marker = fills[-1].exec_id if fills else since
        working = [
            VenueReport(
                client_order_id=o.client_order_id,
                status=OrderStatus.ACCEPTED,
                venue_order_id=o.venue_order_id,
                cum_qty=o.cum_qty,
                leaves_qty=o.leaves_qty,
            )
            for o in open_orders
        ]
        return Reconciliation(open_orders=working, reports=reports(fills), positions=positions, marker=marker)

    def flatten(self) -> list[HeldPosition]:
        with self._lock:
            return held({p.symbol: p.quantity for p in self.engine.positions()})

    def open_orders(self) -> list[str]:
        with self._lock:
            return [o.client_order_id for o in self.engine.open_orders()]

    # ---- the simulated market -------------------------------------------------------------------

    def _ensure_instrument(self, venue_symbol: str) -> None:
        if self.market.has_instrument(venue_symbol):
            return
        try:
            root, _contract = self.symbols.parse(venue_symbol, self.venue)
        except Exception as exc:
            raise VenueError(f"unknown symbol {venue_symbol}") from exc
        spec = self.symbols.spec(root)
        vs = spec.venues[self.venue]
        start = self.market_cfg.start_prices.get(root, 100.0)
        self.market.add_instrument(
            InstrumentSpec(
                symbol=venue_symbol,
                tick_size=spec.tick_size,
                start_price=start,
                spread_ticks=self.market_cfg.spread_ticks,
                step_ticks=self.market_cfg.step_ticks,
                lot_step=vs.lot_step,
                min_qty=vs.min_qty,
                point_value=spec.venue_point_value(self.venue),
            )
        )

    def _apply_control_prices(self) -> list[Report]:
        """Move the controlled roots to their prices; the reports of resting orders that filled."""
        prices = self.redis.hgetall(self._prices_key)
        for raw_root, raw_price in prices.items():
            root = as_str(raw_root)
            for sym in self.market.symbols:
                if self.symbols.parse(sym, self.venue)[0] == root:
                    p = float(raw_price)
                    self.market.set_quote(sym, bid=p, ask=p, last=p)
        return self.engine.process() if prices else []

    def _venue_symbols(self) -> list[str]:
        active = {as_str(k): as_str(v) for k, v in self.redis.hgetall(self.names.contracts).items()}
        out = []
        for root in self.symbols.roots_for(self.venue):
            vs = self.symbols.venue_spec(root, self.venue)
            if not vs.dated:
                out.append(self.symbols.venue_symbol(root, self.venue))
            elif root in active:
                out.append(self.symbols.venue_symbol(root, self.venue, Contract.parse(active[root])))
        return out

    def poll(self) -> None:
        """Move the market one step, fill what crossed, publish fills and ticks (from the tick hook)."""
        now = time.monotonic()
        if now < self._next_md:
            return
        self._next_md = now + self.settings.sim_md_interval_s
        with self._lock:
            for sym in self._venue_symbols():
                self._ensure_instrument(sym)
            self.market.step()
            done = self._apply_control_prices() + self.engine.process()
            quotes = self.market.quotes()
        self.emit_reports(reports(done))
        self.emit_market_data([tick(self.venue, q) for q in quotes.values()])
