"""The simulated MT5 terminal served over rpyc exactly as mt5linux serves a real one.

One server process per profile (`python -m nexus_mt5.simulator --port 0 --profile ...`); each test resets
it through `nexus_sim_control` and talks to it the way mt5linux 1.0.11 does: a classic connection,
`execute("import MetaTrader5 as mt5")`, then `eval("mt5.xxx(...)")` with the arguments as Python source,
and `rpyc.classic.obtain` to copy results (named tuples) to this side.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rpyc

from nexus_mt5.simulator import SimulatorProcess, SimulatorServer, Terminal
from nexus_mt5.simulator.types import OrderSendResult, SymbolInfo, TradeDeal

BUY, SELL = 0, 1
COMMENT = "01JDX3K7Q8ZP4V5W6X7Y8Z9A0B.MT0"


class Remote:
    """One client connection, used like mt5linux's MetaTrader5 object."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        conn.execute("import MetaTrader5 as mt5")
        conn.execute("import datetime")
        self.control = conn.modules.nexus_sim_control

    def __call__(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        """mt5linux's call: the arguments travel as source code, the result is copied by value."""
        return rpyc.classic.obtain(self.conn.eval(f"mt5.{fn}(*{args!r}, **{kwargs!r})"))

    def const(self, name: str) -> int:
        return int(self.conn.eval(f"mt5.{name}"))

    def market(self, symbol: str, volume: float, side: int, **extra: Any) -> dict[str, Any]:
        tick = self("symbol_info_tick", symbol)
        brazil = self("account_info").currency == "BRL"
        return {
            "action": 1, "symbol": symbol, "volume": volume, "type": side,
            "price": tick.ask if side == BUY else tick.bid, "deviation": 20, "magic": 77, "comment": COMMENT,
            "type_time": 0, "type_filling": 2 if brazil else 1, **extra,
        }  # fmt: skip

    def deals(self) -> list[TradeDeal]:
        now = datetime.now(UTC)
        return list(self("history_deals_get", now - timedelta(days=1), now + timedelta(days=1)))


def connect(sim: SimulatorProcess) -> Remote:
    remote = Remote(sim.connect())
    remote.control.reset()
    assert remote("initialize")
    return remote


@pytest.fixture(scope="module")
def fx_server() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("global", "--always-open") as sim:
        yield sim


@pytest.fixture(scope="module")
def b3_server() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("brazil") as sim:
        yield sim


@pytest.fixture
def fx(fx_server: SimulatorProcess) -> Iterator[Remote]:
    remote = connect(fx_server)
    remote.control.set_market_open(True)
    yield remote
    remote.conn.close()


@pytest.fixture
def b3(b3_server: SimulatorProcess) -> Iterator[Remote]:
    remote = connect(b3_server)
    remote.control.set_market_open(True)  # whatever the wall clock says
    yield remote
    remote.conn.close()


def test_initialize_login_and_info_travel_as_named_tuples(b3_server: SimulatorProcess) -> None:
    remote = Remote(b3_server.connect())
    remote.control.reset()
    assert remote("account_info") is None
    assert remote("last_error") == (-10004, "No IPC connection")
    assert remote("initialize", login=5_100_201, password="sim", server="NexusSim-B3")
    assert remote("login", 5_100_201, password="sim", server="NexusSim-B3")
    info = remote("symbol_info", "WINZ25")
    assert isinstance(info, SymbolInfo)
    assert (info.filling_mode, info.volume_step, info.digits) == (0, 1.0, 0)
    assert remote("account_info").margin_mode == remote.const("ACCOUNT_MARGIN_MODE_EXCHANGE")
    assert remote.const("TRADE_RETCODE_CLIENT_DISABLES_AT") == 10027
    remote.conn.close()


def test_order_check_and_market_order_found_by_comment(fx: Remote) -> None:
    req = fx.market("NAS100", 0.5, BUY)
    check = fx("order_check", req)
    assert (check.retcode, check.request.comment) == (0, COMMENT)
    assert check.margin > 0
    result = fx("order_send", req)
    assert isinstance(result, OrderSendResult)
    assert result.retcode == 10009
    assert [p.ticket for p in fx("positions_get") if p.comment == COMMENT] == [result.order]
    assert [d.order for d in fx.deals() if d.comment == COMMENT] == [result.order]
    assert [o.ticket for o in fx("history_orders_get", ticket=result.order)] == [result.order]


def test_pending_order_over_a_netref_request(fx: Remote) -> None:
    """A client may also call the module through netrefs with a local dict, as an adapter using rpyc
    directly would; the server reads the dict through the proxy."""
    mt5 = fx.conn.modules.MetaTrader5
    bid = mt5.symbol_info_tick("US30").bid
    req = {**fx.market("US30", 0.1, 2), "action": mt5.TRADE_ACTION_PENDING, "price": round(bid - 50, 2)}
    placed = rpyc.classic.obtain(mt5.order_send(req))
    assert (placed.retcode, placed.deal) == (10009, 0)
    (order,) = [o for o in fx("orders_get") if o.comment == COMMENT]
    assert (order.ticket, order.type, order.price_open) == (placed.order, 2, round(bid - 50, 2))
    removed = fx("order_send", {"action": 8, "order": placed.order})
    assert removed.retcode == 10009
    assert fx("orders_get") == ()


def test_partial_fills_on_brazil(b3: Remote) -> None:
    b3.control.set_partial_fills(4, 2)
    result = b3("order_send", b3.market("WINZ25", 8, SELL))
    assert (result.retcode, result.volume) == (10010, 4.0)
    (working,) = b3("orders_get", symbol="WINZ25")
    assert (working.ticket, working.volume_current, working.state) == (result.order, 4.0, 3)
    assert b3.control.process(2) == 2
    assert b3("orders_get") == ()
    deals = b3("history_deals_get", ticket=result.order)
    assert [d.volume for d in deals] == [2.0] * 4
    assert {d.comment for d in deals} == {COMMENT}
    (position,) = b3("positions_get")
    assert (position.volume, position.type, position.identifier) == (8.0, 1, result.order)


def test_requote(fx: Remote) -> None:
    req = fx.market("XAUUSD", 0.1, SELL)
    fx.control.requote_next(1, 50)
    requote = fx("order_send", req)
    assert (requote.retcode, requote.order) == (10004, 0)
    assert requote.bid == pytest.approx(req["price"] - 0.5)
    assert fx("order_send", {**req, "price": requote.bid}).retcode == 10009


def test_market_closed(b3: Remote) -> None:
    b3.control.set_market_open(False)
    req = b3.market("WDOF26", 1, BUY)
    assert b3("order_check", req).retcode == 10018
    result = b3("order_send", req)
    assert (result.retcode, result.order) == (10018, 0)


def test_autotrading_disabled(fx: Remote) -> None:
    fx.control.set_autotrading(False)
    assert fx("terminal_info").trade_allowed is False
    assert fx("order_send", fx.market("NAS100", 0.1, BUY)).retcode == 10027
    fx.control.set_autotrading(True)
    assert fx("order_send", fx.market("NAS100", 0.1, BUY)).retcode == 10009


def test_drop_after_send_is_an_unknown_outcome(fx_server: SimulatorProcess, fx: Remote) -> None:
    fx.control.drop_after_send()
    req = fx.market("NAS100", 0.2, BUY, comment="lost-answer.MT0")
    with pytest.raises((EOFError, ConnectionError)):
        fx("order_send", req)
    later = Remote(fx_server.connect())  # reconnect; the terminal kept running and kept the order
    assert later("terminal_info").connected
    mine = [p for p in later("positions_get") if p.comment == "lost-answer.MT0"]
    assert len(mine) == 1
    assert mine[0].volume == 0.2
    assert [d.comment for d in later.deals() if d.symbol] == ["lost-answer.MT0"]
    later.conn.close()


def test_two_clients_at_once(fx_server: SimulatorProcess, fx: Remote) -> None:
    other = Remote(fx_server.connect())
    results: list[int] = []

    def send(remote: Remote, n: int) -> None:
        for i in range(n):
            results.append(remote("order_send", remote.market("BTCUSD", 0.01, BUY, comment=f"c{i}")).order)

    threads = [threading.Thread(target=send, args=(r, 10)) for r in (fx, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(set(results)) == 20
    assert len(fx("positions_get")) == 20
    other.conn.close()


def test_mt5linux_client_works_unchanged(fx_server: SimulatorProcess, fx: Remote) -> None:
    mt5linux = pytest.importorskip("mt5linux", reason="mt5linux is not a dependency; install 1.0.11 to run")
    mt5 = mt5linux.MetaTrader5(host=fx_server.host, port=fx_server.port)
    assert mt5.initialize(login=7_300_101, password="sim", server="NexusSim-Global")
    result = mt5.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": "NAS100", "volume": 0.1, "type": 0,
                             "type_filling": mt5.ORDER_FILLING_FOK, "comment": "via-mt5linux"})  # fmt: skip
    assert result.retcode == mt5.TRADE_RETCODE_DONE
    assert [p.comment for p in mt5.positions_get()] == ["via-mt5linux"]


def test_server_refuses_non_loopback() -> None:
    with pytest.raises(ValueError, match="refusing to bind"):
        SimulatorServer(Terminal("global"), host="0.0.0.0", port=0)


PLAIN = '''
def nx_plain(value):
    """MT5 results as plain data: named tuples / struct sequences become dicts, tuples stay tuples."""
    if hasattr(value, "_asdict"):
        return {k: nx_plain(v) for k, v in value._asdict().items()}
    if isinstance(value, tuple):
        return tuple(nx_plain(v) for v in value)
    return value
'''


def test_real_pickling_mode_needs_asdict_on_the_server() -> None:
    """A real terminal's structures cannot be obtained by pickle on Linux; `--real-pickling` makes the
    simulator refuse too, and the server-side `_asdict()` copy works for both."""
    with SimulatorProcess("global", "--always-open", "--real-pickling") as sim:
        remote = Remote(sim.connect())
        assert remote("initialize")
        with pytest.raises(pickle.PicklingError):
            remote("account_info")
        remote.conn.execute(PLAIN)
        account = rpyc.classic.obtain(remote.conn.eval("nx_plain(mt5.account_info())"))
        assert account["currency"] == "USD"
        req = {
            "action": 1,
            "symbol": "NAS100",
            "volume": 0.1,
            "type": 0,
            "type_filling": 1,
            "comment": "plain",
        }
        result = rpyc.classic.obtain(remote.conn.eval(f"nx_plain(mt5.order_send({req!r}))"))
        assert result["retcode"] == 10009
        assert result["request"]["comment"] == "plain"
        positions = rpyc.classic.obtain(remote.conn.eval("nx_plain(mt5.positions_get())"))
        assert [p["comment"] for p in positions] == ["plain"]
        remote.conn.close()
