"""The simulated MetaTrader5 module's surface: names, constants, structures, session calls, symbols and
argument errors, in process."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from nexus_mt5.simulator import API_FUNCTIONS, constants
from nexus_mt5.simulator.profiles import b3_hours, fx_24x5
from nexus_mt5.simulator.types import (
    OrderSendResult,
    SymbolInfo,
    TradeDeal,
    TradeOrder,
    TradePosition,
    TradeRequest,
    pickle_like_real_terminal,
)

from .conftest import Sim, SimFactory


def test_module_has_the_real_constants_and_functions(fx: Sim) -> None:
    mt5 = fx.mt5
    expected = {
        "TRADE_ACTION_DEAL": 1, "TRADE_ACTION_PENDING": 5, "TRADE_ACTION_SLTP": 6, "TRADE_ACTION_MODIFY": 7,
        "TRADE_ACTION_REMOVE": 8, "TRADE_ACTION_CLOSE_BY": 10,
        "ORDER_TYPE_BUY": 0, "ORDER_TYPE_SELL": 1, "ORDER_TYPE_BUY_LIMIT": 2, "ORDER_TYPE_SELL_LIMIT": 3,
        "ORDER_TYPE_BUY_STOP": 4, "ORDER_TYPE_SELL_STOP": 5,
        "ORDER_FILLING_FOK": 0, "ORDER_FILLING_IOC": 1, "ORDER_FILLING_RETURN": 2, "ORDER_FILLING_BOC": 3,
        "ORDER_TIME_GTC": 0, "ORDER_TIME_DAY": 1,
        "ORDER_STATE_PLACED": 1, "ORDER_STATE_CANCELED": 2, "ORDER_STATE_PARTIAL": 3, "ORDER_STATE_FILLED": 4,
        "DEAL_TYPE_BUY": 0, "DEAL_TYPE_SELL": 1, "DEAL_TYPE_BALANCE": 2,
        "DEAL_ENTRY_IN": 0, "DEAL_ENTRY_OUT": 1, "DEAL_ENTRY_INOUT": 2,
        "ACCOUNT_MARGIN_MODE_RETAIL_NETTING": 0, "ACCOUNT_MARGIN_MODE_EXCHANGE": 1,
        "ACCOUNT_MARGIN_MODE_RETAIL_HEDGING": 2,
        "TRADE_RETCODE_REQUOTE": 10004, "TRADE_RETCODE_REJECT": 10006, "TRADE_RETCODE_PLACED": 10008,
        "TRADE_RETCODE_DONE": 10009, "TRADE_RETCODE_DONE_PARTIAL": 10010,
        "TRADE_RETCODE_INVALID_VOLUME": 10014,
        "TRADE_RETCODE_MARKET_CLOSED": 10018, "TRADE_RETCODE_NO_MONEY": 10019,
        "TRADE_RETCODE_CLIENT_DISABLES_AT": 10027, "TRADE_RETCODE_INVALID_FILL": 10030,
        "RES_S_OK": 1, "RES_E_INVALID_PARAMS": -2, "RES_E_INTERNAL_FAIL_CONNECT": -10004,
        "TIMEFRAME_H1": 16385,
    }  # fmt: skip
    assert {name: getattr(mt5, name) for name in expected} == expected
    assert len(constants.MODULE_CONSTANTS) == 223  # every constant of MetaTrader5 5.0.6231, no more
    assert not hasattr(mt5, "SYMBOL_FILLING_FOK")  # MQL5-only: the Python package does not export it
    assert (constants.SYMBOL_FILLING_FOK, constants.SYMBOL_FILLING_IOC) == (1, 2)
    assert all(callable(getattr(mt5, fn)) for fn in API_FUNCTIONS)


def test_structures_have_the_real_field_order_and_pickle() -> None:
    assert TradeDeal._fields[:6] == ("ticket", "order", "time", "time_msc", "type", "entry")
    assert TradePosition._fields[-3:] == ("symbol", "comment", "external_id")
    assert TradeOrder._fields[:3] == ("ticket", "time_setup", "time_setup_msc")
    assert OrderSendResult._fields == (
        "retcode", "deal", "order", "volume", "price", "bid", "ask", "comment", "request_id",
        "retcode_external", "request",
    )  # fmt: skip
    assert len(SymbolInfo._fields) == 96
    result = OrderSendResult(retcode=10009, request=TradeRequest(symbol="X", comment="c"))
    copy = pickle.loads(pickle.dumps(result))
    assert copy == result
    assert type(copy.request) is TradeRequest
    assert copy._asdict()["request"].comment == "c"


def test_calls_before_initialize_fail_like_the_real_package(make_sim: SimFactory) -> None:
    sim = make_sim(initialize=False)
    assert sim.mt5.account_info() is None
    assert sim.mt5.last_error() == (-10004, "No IPC connection")
    assert sim.mt5.order_send({"action": 1}) is None
    assert sim.mt5.login(7_300_101) is False


def test_initialize_login_and_shutdown(make_sim: SimFactory) -> None:
    sim = make_sim(initialize=False)
    mt5 = sim.mt5
    assert mt5.initialize(login=7_300_101, password="wrong", server="NexusSim-Global") is False
    assert mt5.last_error() == (-6, "Terminal: Authorization failed")
    assert mt5.initialize(login=7_300_101, password="sim", server="NexusSim-Global", timeout=5000)
    assert mt5.last_error() == (1, "Success")
    assert mt5.login(7_300_101, password="sim", server="NexusSim-Global")
    assert mt5.login(1234) is False
    assert mt5.version()[0] == 500
    info = mt5.terminal_info()
    assert info.connected
    assert info.trade_allowed
    mt5.shutdown()
    assert mt5.terminal_info() is None


def test_account_info_per_profile(make_sim: SimFactory) -> None:
    fx, b3 = make_sim("global").mt5, make_sim("brazil").mt5
    a, b = fx.account_info(), b3.account_info()
    assert (a.margin_mode, a.currency, a.balance, a.equity) == (
        fx.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
        "USD",
        100_000.0,
        100_000.0,
    )
    assert (b.margin_mode, b.currency, b.leverage) == (b3.ACCOUNT_MARGIN_MODE_EXCHANGE, "BRL", 1)


def test_symbol_info_describes_trading_rules(make_sim: SimFactory) -> None:
    fx, b3 = make_sim("global").mt5, make_sim("brazil").mt5
    nas = fx.symbol_info("NAS100")
    assert (nas.volume_min, nas.volume_step, nas.filling_mode, nas.currency_profit) == (0.01, 0.01, 3, "USD")
    assert (nas.digits, nas.point, nas.trade_exemode) == (2, 0.01, fx.SYMBOL_TRADE_EXECUTION_INSTANT)
    assert nas.bid < nas.ask
    win = b3.symbol_info("WINZ25")
    assert (win.filling_mode, win.volume_min, win.volume_step, win.trade_tick_size) == (0, 1.0, 1.0, 5.0)
    assert win.trade_tick_value / win.trade_tick_size == pytest.approx(0.2)  # R$0.20 per point
    assert b3.symbol_info("WDOF26").trade_tick_value == 5.0  # R$10 per point, tick 0.5
    assert b3.symbol_info("WIN$").trade_mode == b3.SYMBOL_TRADE_MODE_DISABLED
    assert fx.symbol_info("EURUSD") is None
    assert fx.last_error() == (-4, "Terminal: Not found")


def test_symbols_get_group_filters(fx: Sim) -> None:
    names = lambda group: [s.name for s in fx.mt5.symbols_get(group)]  # noqa: E731
    assert names(None) == ["NAS100", "US500", "US30", "XAUUSD", "BTCUSD"]
    assert names("*USD*") == ["XAUUSD", "BTCUSD"]
    assert names("*,!*USD") == ["NAS100", "US500", "US30"]
    assert fx.mt5.symbols_total() == 5


def test_tick_needs_market_watch(fx: Sim) -> None:
    mt5 = fx.mt5
    assert mt5.symbol_select("US30", False)
    assert mt5.symbol_info_tick("US30") is None
    assert not mt5.symbol_info("US30").visible
    assert mt5.symbol_select("US30", True)
    tick = mt5.symbol_info_tick("US30")
    assert tick.time_msc == fx.clock.now_ns() // 1_000_000
    assert tick.bid < tick.ask
    assert mt5.symbol_select("NOPE", True) is False


def test_request_argument_errors_return_none(fx: Sim) -> None:
    mt5 = fx.mt5
    assert mt5.order_send({"symbol": "NAS100"}) is None
    assert mt5.last_error() == (-2, 'Invalid "action" argument')
    assert mt5.order_send({**fx.market("NAS100", 1, 0), "volume": "1"}) is None
    assert mt5.last_error() == (-2, 'Invalid "volume" argument')
    assert mt5.order_check({**fx.market("NAS100", 1, 0), "type": 0.0}) is None
    assert mt5.last_error() == (-2, 'Invalid "type" argument')
    assert mt5.order_send("not a dict") is None
    assert mt5.last_error() == (-2, "Invalid arguments")


def test_comment_is_truncated_to_31_characters(make_sim: SimFactory) -> None:
    fx = make_sim("global")
    result = fx.mt5.order_send(fx.market("NAS100", 0.1, 0, comment="x" * 40))
    assert result.request.comment == "x" * 31
    assert fx.mt5.positions_get()[0].comment == "x" * 31
    strict = make_sim("global", comment_overflow="reject")
    assert strict.mt5.order_send(strict.market("NAS100", 0.1, 0, comment="x" * 32)) is None
    assert strict.mt5.last_error() == (-2, 'Invalid "comment" argument')


def test_trading_hours() -> None:
    ts = lambda *a: int(datetime(*a, tzinfo=UTC).timestamp()) * 1_000_000_000  # noqa: E731
    # B3: 09:00-18:25 São Paulo (UTC-3), weekdays
    assert not b3_hours(ts(2025, 12, 1, 11, 59))
    assert b3_hours(ts(2025, 12, 1, 12, 0))
    assert b3_hours(ts(2025, 12, 1, 21, 24))
    assert not b3_hours(ts(2025, 12, 1, 21, 25))
    assert not b3_hours(ts(2025, 12, 6, 14, 0))  # Saturday
    # CFDs: Sunday 22:00 to Friday 21:00 UTC
    assert fx_24x5(ts(2025, 12, 5, 20, 59))
    assert not fx_24x5(ts(2025, 12, 5, 21, 0))
    assert not fx_24x5(ts(2025, 12, 7, 21, 59))
    assert fx_24x5(ts(2025, 12, 7, 22, 0))


def test_market_book(fx: Sim) -> None:
    mt5 = fx.mt5
    assert mt5.market_book_add("NAS100")
    book = mt5.market_book_get("NAS100")
    sells = [b.price for b in book if b.type == mt5.BOOK_TYPE_SELL]
    buys = [b.price for b in book if b.type == mt5.BOOK_TYPE_BUY]
    assert sells == sorted(sells, reverse=True)
    assert buys == sorted(buys, reverse=True)
    assert min(sells) > max(buys)
    assert mt5.market_book_release("NAS100")


def test_unsupported_functions_say_so(fx: Sim) -> None:
    assert fx.mt5.copy_rates_from_pos("NAS100", fx.mt5.TIMEFRAME_M1, 0, 10) is None
    assert fx.mt5.last_error() == (-7, "Terminal: Unsupported function")


def test_structures_can_refuse_pickling_like_the_real_ones() -> None:
    pickle_like_real_terminal()
    try:
        with pytest.raises(pickle.PicklingError, match="TradeRequest"):
            pickle.dumps(TradeRequest())
    finally:
        pickle_like_real_terminal(False)
    assert pickle.loads(pickle.dumps(TradeRequest(symbol="X"))).symbol == "X"
