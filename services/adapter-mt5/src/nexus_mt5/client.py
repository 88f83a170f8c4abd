"""Access to one MetaTrader 5 terminal through the MetaTrader5 package's API, in-process or over rpyc.

Two ways to reach the same API, behind one small class (`ApiTerminal`), so the adapter is the same:

- `native`: `import MetaTrader5` in this process (Windows only: the package ships Windows wheels and
  talks to the terminal over the terminal's local IPC).
- `rpyc`: the mt5linux bridge. A Windows Python beside the terminal runs a classic rpyc server
  (mt5linux's, or deploy/windows/mt5_bridge.py with SSL) in which `MetaTrader5` is importable; we
  connect with a classic connection and every call is `conn.eval("...mt5.xxx(...)...")` with the
  arguments as Python literals, exactly as mt5linux 1.0.11 does.

Results are converted to plain data (dicts, tuples, numbers, strings) *where the call ran*, by
`plain()`: the real package's results are C struct sequences whose types carry no module, so a
Linux client cannot unpickle them (`rpyc.classic.obtain` fails; docs/mt5-simulator.md). Over rpyc the
source of `plain` is sent to the server once per connection and each call is wrapped in it, so one
call is one round trip and nothing we hold is a netref that dies with the connection.

A call that fails on the link (connection reset, EOF, rpyc's request timeout) raises
`TerminalLinkError` (an OSError) and marks the terminal down; the adapter reconnects. Calls the
terminal refuses return None/False with `last_error()`, as in the package. Orders and deals read
back are typed (`OrderRec`, `DealRec`); booking deals (balance, credit, ...) are not trades.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nexus_mt5.config import Mt5Settings
from nexus_mt5.constants import FINAL_STATES, DealType

log = logging.getLogger(__name__)

Record = dict[str, Any]
_CENT = Decimal("0.01")


class TerminalLinkError(ConnectionError):
    """The link to the terminal failed during a call: its effect, if any, is unknown."""


def plain(value: Any) -> Any:
    """MT5 results as plain data: named tuples / struct sequences become dicts, tuples stay tuples."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (tuple, list)):  # a tuple, not X | Y: this runs on the bridge's Python too
        return tuple(plain(v) for v in value)
    return value


class ApiTerminal(ABC):
    """The API methods written once over `_call(fn, args, kwargs)` (plain results) and `_eval`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # one request at a time per link, as the terminal serves them
        self._up = False

    @property
    def up(self) -> bool:
        return self._up

    @abstractmethod
    def _call(self, fn: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any: ...

    @abstractmethod
    def ticks(self, symbols: Sequence[str]) -> dict[str, Record | None]: ...

    @abstractmethod
    def close(self) -> None: ...

    def call(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self._call(fn, args, kwargs)

    def initialize(
        self,
        *,
        path: str | None,
        login: int | None,
        password: str | None,
        server: str | None,
        timeout_ms: int,
    ) -> bool:
        kwargs: dict[str, Any] = {"timeout": timeout_ms}
        if login is not None:
            kwargs.update(login=login, password=password or "", server=server or "")
        args = (path,) if path else ()
        return bool(self.call("initialize", *args, **kwargs))

    def login(self, login: int, *, password: str | None, server: str | None, timeout_ms: int) -> bool:
        return bool(
            self.call("login", login, password=password or "", server=server or "", timeout=timeout_ms)
        )

    def last_error(self) -> tuple[int, str]:
        code, text = self.call("last_error")
        return int(code), str(text)

    def terminal_info(self) -> Record | None:
        return _record(self.call("terminal_info"))

    def account_info(self) -> Record | None:
        return _record(self.call("account_info"))

    def symbol_info(self, symbol: str) -> Record | None:
        return _record(self.call("symbol_info", symbol))

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        return bool(self.call("symbol_select", symbol, enable))

    def order_check(self, request: Mapping[str, Any]) -> Record | None:
        return _record(self.call("order_check", dict(request)))

    def order_send(self, request: Mapping[str, Any]) -> Record | None:
        return _record(self.call("order_send", dict(request)))

    def orders_get(self, **filters: Any) -> list[Record] | None:
        return _records(self.call("orders_get", **filters))

    def positions_get(self, **filters: Any) -> list[Record] | None:
        return _records(self.call("positions_get", **filters))

    def history_orders_get(self, *window: int, **filters: Any) -> list[Record] | None:
        """`(date_from, date_to)` in seconds since the epoch (server time), or `ticket=` / `position=`."""
        return _records(self.call("history_orders_get", *window, **filters))

    def history_deals_get(self, *window: int, **filters: Any) -> list[Record] | None:
        return _records(self.call("history_deals_get", *window, **filters))


def _record(value: Any) -> Record | None:
    return value if isinstance(value, dict) else None


def _records(value: Any) -> list[Record] | None:
    if value is None:
        return None
    return [v for v in value if isinstance(v, dict)]


class NativeTerminal(ApiTerminal):
    """The MetaTrader5 package in this process (Windows); `module` may be any module with its API."""

    def __init__(self, module: Any = None) -> None:
        super().__init__()
        self._mt5 = module if module is not None else importlib.import_module("MetaTrader5")
        self._up = True

    def __repr__(self) -> str:
        return f"<NativeTerminal {getattr(self._mt5, '__name__', '?')} up={self._up}>"

    def _call(self, fn: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return plain(getattr(self._mt5, fn)(*args, **kwargs))

    def ticks(self, symbols: Sequence[str]) -> dict[str, Record | None]:
        with self._lock:
            return {s: _record(plain(self._mt5.symbol_info_tick(s))) for s in symbols}

    def close(self) -> None:
        self._up = False
        self._mt5.shutdown()


class RpycTerminal(ApiTerminal):
    """A classic rpyc connection to an mt5linux-style server; one `conn.eval` per API call."""

    def __init__(self, settings: Mt5Settings) -> None:
        super().__init__()
        import rpyc
        from rpyc.core.service import MasterService
        from rpyc.utils import factory

        self.peer = f"{settings.mt5_host}:{settings.mt5_port}"
        config = {"sync_request_timeout": settings.mt5_request_timeout_s}
        try:
            if settings.mt5_ssl_ca:
                self._conn: Any = factory.ssl_connect(
                    settings.mt5_host,
                    settings.mt5_port,
                    keyfile=_path(settings.mt5_ssl_key),
                    certfile=_path(settings.mt5_ssl_cert),
                    ca_certs=str(settings.mt5_ssl_ca),
                    service=MasterService,
                    config=config,
                )
            else:
                self._conn = factory.connect(
                    settings.mt5_host, settings.mt5_port, MasterService, config=config, keepalive=True
                )
            self._conn.execute("import MetaTrader5 as mt5")
            # postponed annotations: the bridge's Python does not know our typing names
            self._conn.execute("from __future__ import annotations\n" + inspect.getsource(plain))
        except (OSError, EOFError) as exc:
            raise TerminalLinkError(f"cannot reach the MT5 bridge at {self.peer}: {exc}") from exc
        self._obtain = rpyc.classic.obtain
        self._up = True

    def __repr__(self) -> str:
        return f"<RpycTerminal {self.peer} up={self._up}>"

    def _eval(self, source: str) -> Any:
        if not self._up:
            raise TerminalLinkError(f"the link to {self.peer} is down")
        try:
            return self._obtain(self._conn.eval(source))
        except (EOFError, OSError, TimeoutError) as exc:  # rpyc's request timeout is a TimeoutError
            self._up = False
            raise TerminalLinkError(f"MT5 bridge {self.peer}: {type(exc).__name__}: {exc}") from exc

    def _call(self, fn: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # mt5linux's own call shape: the arguments travel as Python literals (numbers, strings, dicts).
        return self._eval(f"plain(mt5.{fn}(*{args!r}, **{kwargs!r}))")

    def ticks(self, symbols: Sequence[str]) -> dict[str, Record | None]:
        with self._lock:
            got = self._eval(f"{{s: plain(mt5.symbol_info_tick(s)) for s in {list(symbols)!r}}}")
        return {s: _record(v) for s, v in dict(got).items()}

    def close(self) -> None:
        self._up = False
        try:
            self._conn.close()
        except Exception as exc:  # closing a dead connection may raise anything rpyc's stream raises
            log.debug("closing the MT5 bridge connection: %s", exc)


def _path(value: object) -> str | None:
    return None if value is None else str(value)


def open_terminal(settings: Mt5Settings) -> ApiTerminal:
    """The terminal link the settings ask for (not yet initialized)."""
    if settings.mt5_mode == "native":
        return NativeTerminal()
    return RpycTerminal(settings)


# ---- the terminal's records, typed ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRec:
    ticket: int
    symbol: str
    state: int
    magic: int
    volume_initial: float
    volume_current: float
    comment: str
    time_setup_msc: int
    time_done_msc: int

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> OrderRec:
        return cls(
            ticket=int(r["ticket"]),
            symbol=str(r.get("symbol", "")),
            state=int(r.get("state", 0)),
            magic=int(r.get("magic", 0)),
            volume_initial=float(r.get("volume_initial", 0.0)),
            volume_current=float(r.get("volume_current", 0.0)),
            comment=str(r.get("comment", "")),
            time_setup_msc=int(r.get("time_setup_msc", 0)),
            time_done_msc=int(r.get("time_done_msc", 0)),
        )

    @property
    def working(self) -> bool:
        return self.state not in FINAL_STATES


@dataclass(frozen=True, slots=True)
class DealRec:
    ticket: int
    order: int
    type: int
    magic: int
    volume: float
    price: float
    commission: float
    swap: float
    fee: float
    time_msc: int
    symbol: str
    comment: str

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> DealRec:
        return cls(
            ticket=int(r["ticket"]),
            order=int(r.get("order", 0)),
            type=int(r.get("type", -1)),
            magic=int(r.get("magic", 0)),
            volume=float(r.get("volume", 0.0)),
            price=float(r.get("price", 0.0)),
            commission=float(r.get("commission", 0.0)),
            swap=float(r.get("swap", 0.0)),
            fee=float(r.get("fee", 0.0)),
            time_msc=int(r.get("time_msc", 0)),
            symbol=str(r.get("symbol", "")),
            comment=str(r.get("comment", "")),
        )

    @property
    def is_trade(self) -> bool:
        """Buys and sells of an order; balance, credit, commission and other booking deals are not fills."""
        return self.type in (DealType.BUY, DealType.SELL) and self.order > 0 and self.volume > 0

    @property
    def cost(self) -> float:
        return float(
            (-(Decimal(repr(self.commission)) + Decimal(repr(self.swap)) + Decimal(repr(self.fee)))).quantize(
                _CENT
            )
        )


def trade_deals(records: Iterable[Mapping[str, Any]] | None) -> list[DealRec]:
    deals = [DealRec.of(r) for r in records or ()]
    return sorted((d for d in deals if d.is_trade), key=lambda d: d.ticket)
