"""Symbols and quotes of one terminal: the terms orders are sized by, and ticks for nx:md:raw:{venue}.

The instance's symbols are `NX_MT5_SYMBOLS`, or the symbol registry's for the venue (a dated B3
contract in its active contract, from the rollover service's `nx:contracts`), kept to those the
terminal has (selected into MarketWatch Watch, which `symbol_info_tick` needs). The list is refreshed
every 30 s, so a roll moves the quotes to the new contract. A quote goes out when it changed, and
at least every `NX_MT5_MD_REFRESH_S` (fx takes USDBRL from WDO ticks and calls old ones stale).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import redis

from nexus_mesh.contracts import market_symbols
from nexus_mt5.client import ApiTerminal
from nexus_mt5.config import Mt5Settings
from nexus_mt5.constants import ExecMode, Retcode
from nexus_mt5.mapping import SymbolTerms
from nexus_protocol.errors import DecodeError, VenueError
from nexus_protocol.messages import Tick
from nexus_protocol.streams import Names
from nexus_protocol.symbols import SymbolRegistry

log = logging.getLogger(__name__)

SYMBOLS_REFRESH_S = 30.0
SYMBOLS_RETRY_S = 2.0

Quote = tuple[float, float, float, int]  # bid, ask, last, time_msc


class MarketWatch:
    """Symbol terms (cached per connection), quotes for orders, and the instance's ticks."""

    def __init__(
        self,
        settings: Mt5Settings,
        registry: SymbolRegistry,
        client: redis.Redis,
        names: Names,
        terminal: Callable[[], ApiTerminal],
    ) -> None:
        self.settings = settings
        self.venue = settings.venue
        self.registry = registry
        self.redis = client
        self.names = names
        self._terminal = terminal
        self._terms: dict[str, SymbolTerms] = {}
        self._symbols: list[str] = []
        self._symbols_at = -math.inf
        self._sent: dict[str, tuple[Quote, float]] = {}

    def reset(self) -> None:
        """A new connection: symbol terms and MarketWatch Watch are read again."""
        self._terms.clear()
        self._symbols_at = -math.inf

    # ---- orders ---------------------------------------------------------------------------------

    def terms(self, name: str) -> SymbolTerms:
        terms = self._terms.get(name)
        if terms is None:
            term = self._terminal()
            info = term.symbol_info(name)
            if info is None:
                raise VenueError(f"{name} is not a symbol of this terminal", code=int(Retcode.INVALID))
            if not info.get("visible", True):
                term.symbol_select(name, True)
            terms = self._terms[name] = SymbolTerms.of(info)
            if terms.exec_mode == ExecMode.EXCHANGE and self.settings.mt5_deviation_points:
                log.debug("%s: %s has exchange execution: the deviation is ignored there", self.venue, name)
        return terms

    def bid_ask(self, name: str) -> tuple[float, float]:
        term = self._terminal()
        tick = term.ticks([name]).get(name)
        if tick is None and term.symbol_select(name, True):
            tick = term.ticks([name]).get(name)
        if tick is None:
            raise VenueError(f"no quote for {name}", code=int(Retcode.PRICE_OFF))
        return float(tick.get("bid") or 0.0), float(tick.get("ask") or 0.0)

    # ---- market data ----------------------------------------------------------------------------

    def symbols(self) -> list[str]:
        now = time.monotonic()
        if now - self._symbols_at < SYMBOLS_REFRESH_S:
            return self._symbols
        self._symbols_at = now
        wanted = list(self.settings.mt5_symbols)
        if not wanted:
            wanted, complete = self._registry_symbols()
            if not complete:  # a dated root without an active contract yet (rollover not up): ask again soon
                self._symbols_at = now - SYMBOLS_REFRESH_S + SYMBOLS_RETRY_S
        term = self._terminal()
        selected = [s for s in wanted if term.symbol_select(s, True)]
        missing = sorted(set(wanted) - set(selected))
        if missing:
            log.info("%s: not at this terminal, no market data for %s", self.venue, missing)
        self._symbols = selected
        return selected

    def _registry_symbols(self) -> tuple[list[str], bool]:
        """The registry's symbols for this venue, and whether every root has one."""
        try:
            symbols, waiting = market_symbols(self.redis, self.names, self.registry, self.venue)
        except (DecodeError, ValueError) as exc:
            log.warning("%s: no market data symbols: %s", self.venue, exc)
            return [], False
        return symbols, not waiting

    def ticks(self) -> list[Tick]:
        """Quotes that changed (or are due a refresh) since they were last sent."""
        symbols = self.symbols()
        if not symbols:
            return []
        now = time.monotonic()
        offset_ns = self.settings.mt5_server_utc_offset_s * 1_000_000_000
        out: list[Tick] = []
        for sym, t in self._terminal().ticks(symbols).items():
            if t is None:
                continue
            quote: Quote = (
                float(t.get("bid") or 0.0),
                float(t.get("ask") or 0.0),
                float(t.get("last") or 0.0),
                int(t.get("time_msc") or 0),
            )
            prev = self._sent.get(sym)
            if prev is not None and prev[0] == quote and now - prev[1] < self.settings.mt5_md_refresh_s:
                continue
            self._sent[sym] = (quote, now)
            bid, ask, last, msc = quote
            out.append(
                Tick(
                    venue=self.venue,
                    symbol=sym,
                    bid=bid or None,
                    ask=ask or None,
                    last=last or None,
                    last_size=float(t.get("volume_real") or 0.0) or None,
                    venue_ts_ns=msc * 1_000_000 - offset_ns if msc else None,
                )
            )
        return out
