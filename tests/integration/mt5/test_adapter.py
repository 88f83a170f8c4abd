"""The MT5 adapter (in a thread of this process) against simulated terminals over rpyc, as it reaches
a real one through the mt5linux bridge: orders from nx:orders:{venue}, reports on nx:fills:raw,
quotes on nx:md:raw:{venue}. The global terminal refuses to pickle its results like a real one
(`--real-pickling`), so every test there also proves the server-side conversion."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from mt5_helpers import (
    TerminalView,
    events,
    fills_of,
    final_fill,
    new_order,
    orders_done,
    running,
    send,
    send_cancel,
    settings,
    statuses,
    ticks,
)

from nexus_mesh.killswitch import KillSwitch
from nexus_mt5.adapter import Mt5Adapter
from nexus_mt5.simulator import SimulatorProcess
from nexus_protocol import Names, OrderStatus, OrderType, Side
from nexus_protocol.errors import VenueError
from nexus_testing import venue_equity, wait_for
from nexus_testing.flatten import flatten_and_check

A, P, F, C, R = (
    OrderStatus.ACCEPTED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED,
    OrderStatus.CANCELLED,
    OrderStatus.REJECTED,
)


@pytest.fixture(scope="module")
def global_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("global", "--always-open", "--real-pickling") as sim:
        yield sim


@pytest.fixture(scope="module")
def brazil_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("brazil", "--always-open") as sim:
        yield sim


@pytest.fixture
def fx(global_sim: SimulatorProcess) -> Iterator[TerminalView]:
    view = TerminalView(global_sim).reset()
    yield view
    view.close()


@pytest.fixture
def b3(brazil_sim: SimulatorProcess) -> Iterator[TerminalView]:
    view = TerminalView(brazil_sim).reset()
    yield view
    view.close()


Make = Callable[..., Mt5Adapter]


@pytest.fixture
def make(
    global_sim: SimulatorProcess,
    brazil_sim: SimulatorProcess,
    client: redis.Redis,
    names: Names,
    redis_url: str,
    tmp_path: Path,
) -> Make:
    """make(venue, **settings overrides): an adapter for that simulated terminal (not started)."""

    def build(venue: str, **overrides: object) -> Mt5Adapter:
        sim = global_sim if venue == "mt5-global" else brazil_sim
        return Mt5Adapter(settings(venue, sim, redis_url, names.namespace, tmp_path, **overrides), client)

    return build


def test_market_order_filled_once_with_the_deal_ticket_and_a_replay_is_not_resent(
    fx: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    with running(make("mt5-global"), client, names) as a:
        order = new_order("mt5-global", "NAS100", 0.5)
        send(client, names, order)
        got = final_fill(client, names, order.client_order_id)
        [at_terminal] = fx.orders_with(order.client_order_id)
        [deal] = fx.deals_with(order.client_order_id)
        assert statuses(got) == [A, F]
        assert (at_terminal["magic"], at_terminal["type_filling"]) == (a.magic, 0)  # FOK on a CFD broker
        assert got[-1].fill_id == f"{order.client_order_id}:x:{deal['ticket']}"
        assert (got[-1].last_qty, got[-1].last_price, got[-1].venue_order_id) == (
            0.5,
            deal["price"],
            str(at_terminal["ticket"]),
        )
        send(client, names, order)  # a replay: looked up by comment at the terminal, never sent again
        wait_for(lambda: orders_done(client, names, "mt5-global", 2), what="the replay handled")
        assert len(fx.orders_with(order.client_order_id)) == 1
        assert statuses(fills_of(client, names, order.client_order_id)) == [A, F]
        assert a.sent == 1


def test_b3_partial_fills_one_report_per_deal_with_commission_in_brl(
    b3: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    b3.control.set_partial_fills(4, 2)  # two deals inside order_send, the rest while it keeps working
    with running(make("mt5-brazil"), client, names):
        order = new_order("mt5-brazil", "WINZ25", 8, Side.SELL)
        send(client, names, order)
        wait_for(lambda: len(fills_of(client, names, order.client_order_id)) == 3, what="accepted + 2 deals")
        [working] = b3("orders_get")
        assert working["type_filling"] == 2  # ORDER_FILLING_RETURN on B3
        b3.control.process(2)  # the exchange fills the rest while the adapter polls
        got = final_fill(client, names, order.client_order_id)
    deals = b3.deals_with(order.client_order_id)
    assert statuses(got) == [A, P, P, P, F]
    assert [f.fill_id for f in got[1:]] == [f"{order.client_order_id}:x:{d['ticket']}" for d in deals]
    assert [f.cum_qty for f in got[1:]] == [2.0, 4.0, 6.0, 8.0]
    assert all(f.fee == 0.5 and f.currency == "BRL" for f in got[1:])  # R$0.25 x 2 contracts, a cost
    assert [f.leaves_qty for f in got[1:]] == [6.0, 4.0, 2.0, 0.0]


def test_resting_limit_filled_later_is_reported_by_the_poll_and_a_cancel_removes_another(
    fx: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    bid, ask, _ = fx.control.quote("US30")
    with running(make("mt5-global"), client, names):
        rest = new_order("mt5-global", "US30", 0.1, order_type=OrderType.LIMIT, limit_price=bid - 100.004)
        keep = new_order("mt5-global", "US30", 0.2, order_type=OrderType.LIMIT, limit_price=bid - 300)
        send(client, names, rest)
        send(client, names, keep)
        wait_for(lambda: len(fx("orders_get")) == 2, what="two resting orders")
        assert {o["price_open"] for o in fx("orders_get")} == {round(bid - 100.01, 2), round(bid - 300, 2)}
        fx.control.set_quote("US30", bid - 150, ask - 150)  # through the first limit only
        got = final_fill(client, names, rest.client_order_id)
        assert statuses(got) == [A, F]
        send_cancel(client, names, keep)
        cancelled = final_fill(client, names, keep.client_order_id)
    assert statuses(cancelled) == [A, C]
    assert fx("orders_get") == ()


@pytest.mark.parametrize(("requotes", "expect"), [(2, F), (4, R)])
def test_requotes_are_resent_with_fresh_prices_a_bounded_number_of_times(
    requotes: int, expect: OrderStatus, fx: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    fx.control.requote_next(requotes, 30)
    with running(make("mt5-global", mt5_max_requotes=3), client, names) as a:
        order = new_order("mt5-global", "XAUUSD", 0.1)
        send(client, names, order)
        got = final_fill(client, names, order.client_order_id)
    assert got[-1].status is expect
    assert a.sent == min(requotes, 3) + 1
    if expect is R:
        assert "TRADE_RETCODE_REQUOTE 10004" in (got[-1].reason or "")
        assert fx.orders_with(order.client_order_id) == []


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        ("autotrading", "TRADE_RETCODE_CLIENT_DISABLES_AT 10027"),
        ("closed", "TRADE_RETCODE_MARKET_CLOSED 10018"),
        ("money", "TRADE_RETCODE_NO_MONEY 10019"),
        ("volume", "TRADE_RETCODE_INVALID_VOLUME 10014"),
        ("too_small", "below its minimum volume"),
    ],
)
def test_definitive_refusals_are_rejected_with_their_reason(
    fault: str, needle: str, fx: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    qty = {"money": 90.0, "too_small": 0.004}.get(fault, 0.1)
    if fault == "autotrading":
        fx.control.set_autotrading(False)
    elif fault == "closed":
        fx.control.set_market_open(False)
    elif fault == "volume":
        fx.control.reject_next(1, 10014, "Invalid volume")
    with running(make("mt5-global"), client, names) as a:
        order = new_order("mt5-global", "BTCUSD", qty)
        send(client, names, order)
        [rej] = final_fill(client, names, order.client_order_id)
    assert rej.status is R
    assert needle in (rej.reason or "")
    assert a.sent == (0 if fault == "too_small" else 1)  # refused before sending, or sent once: never retried


def test_lost_answer_is_an_unknown_outcome_resolved_by_lookup_never_resent(
    fx: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    fx.control.drop_after_send()  # placed and filled, then the link drops before the answer
    with running(make("mt5-global"), client, names) as a:
        order = new_order("mt5-global", "NAS100", 0.3)
        send(client, names, order)
        got = final_fill(client, names, order.client_order_id)
        assert statuses(got) == [F]  # found by comment after reconnecting
        assert a.sent == 1
    assert len(fx.orders_with(order.client_order_id)) == 1
    assert len(fx.deals_with(order.client_order_id)) == 1


def test_request_lost_before_the_terminal_is_not_found_and_not_resent(
    fx: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    fx.control.drop_before_send()
    with running(make("mt5-global"), client, names) as a:
        order = new_order("mt5-global", "NAS100", 0.3)
        send(client, names, order)
        [rej] = final_fill(client, names, order.client_order_id)
    assert rej.status is R and "not found" in (rej.reason or "")
    assert a.sent == 1
    assert fx.orders_with(order.client_order_id) == []


def test_restart_reports_fills_made_while_down_once_and_reconciles_positions(
    fx: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    _bid, ask, _ = fx.control.quote("NAS100")
    first = make("mt5-global")
    with running(first, client, names):
        filled = new_order("mt5-global", "NAS100", 1.0)
        limit = new_order(
            "mt5-global", "NAS100", 0.4, Side.SELL, order_type=OrderType.LIMIT, limit_price=ask + 20
        )
        send(client, names, filled)
        send(client, names, limit)
        final_fill(client, names, filled.client_order_id)
        wait_for(
            lambda: statuses(fills_of(client, names, limit.client_order_id)) == [A], what="the limit resting"
        )
        marker = wait_for(
            lambda: client.get(names.state("adapter-mt5-global", "marker")), what="the fill marker"
        )
    [deal] = fx.deals_with(filled.client_order_id)
    assert marker.decode() == f"{deal['ticket']}:{deal['time_msc']}"
    fx.control.set_quote("NAS100", ask + 25, ask + 27)  # the limit sells while no adapter runs
    sell = fx(
        "order_send",
        {"action": 1, "symbol": "NAS100", "volume": 0.2, "type": 1, "type_filling": 1, "comment": "manual"},
    )  # someone trades by hand on the account
    assert sell["retcode"] == 10009
    client.hset(names.state("fills", "venue_positions"), "mt5-global|NAS100", "0.6")  # the gateway's view
    second = make("mt5-global", position_grace_s=0.5)
    with running(second, client, names):
        got = final_fill(client, names, limit.client_order_id)
        mismatch = wait_for(
            lambda: events(client, names, "position_mismatch"), what="the position difference"
        )
    assert statuses(got) == [A, F]
    assert statuses(fills_of(client, names, filled.client_order_id)) == [A, F]  # re-read, deduped
    data = dict(mismatch[0].data)
    assert data.pop("for_s") >= 0.5
    assert data == {"venue_symbol": "NAS100", "platform": 0.4, "gateway": 0.6, "difference": -0.2}


def test_quotes_of_the_instance_symbols_reach_md_raw(
    b3: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    client.hset(names.contracts, mapping={"WIN": "WINZ25", "WDO": "WDOF26"})  # the rollover service's
    b3.control.set_quote("WDOF26", 5489.5, 5490.5, 5490.0)
    with running(make("mt5-brazil"), client, names):
        wait_for(
            lambda: {t.symbol for t in ticks(client, names, "mt5-brazil")} == {"WINZ25", "WDOF26"},
            what="WIN and WDO quotes",
        )
    wdo = [t for t in ticks(client, names, "mt5-brazil") if t.symbol == "WDOF26"][-1]
    assert (wdo.bid, wdo.ask, wdo.last, wdo.venue) == (5489.5, 5490.5, 5490.0, "mt5-brazil")


def test_volume_is_rounded_down_to_the_symbol_step(
    fx: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    with running(make("mt5-global"), client, names):
        order = new_order("mt5-global", "XAUUSD", 0.257)
        send(client, names, order)
        got = final_fill(client, names, order.client_order_id)
    assert (got[-1].status, got[-1].last_qty) == (F, 0.25)
    assert [o["volume_initial"] for o in fx.orders_with(order.client_order_id)] == [0.25]


def test_on_a_hedging_account_an_opposite_order_closes_our_position_not_a_manual_one(
    fx: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    manual = fx(
        "order_send",
        {"action": 1, "symbol": "NAS100", "volume": 2.0, "type": 0, "type_filling": 1, "comment": "by hand"},
    )
    with running(make("mt5-global"), client, names):
        buy = new_order("mt5-global", "NAS100", 1.0)
        send(client, names, buy)
        final_fill(client, names, buy.client_order_id)
        sell = new_order("mt5-global", "NAS100", 1.0, Side.SELL)
        send(client, names, sell)
        assert statuses(final_fill(client, names, sell.client_order_id)) == [A, F]
    [held] = fx("positions_get")
    assert held["ticket"] == manual["order"]  # ours closed (position=), the manual one untouched
    [closing] = fx.orders_with(sell.client_order_id)
    assert closing["position_id"] == fx.orders_with(buy.client_order_id)[0]["ticket"]


def test_reconnect_attempts_back_off(make: Make) -> None:
    a = make("mt5-global", mt5_port=1, mt5_reconnect_max_s=1.0)  # nothing listens there
    with pytest.raises(OSError, match="cannot reach the MT5 bridge"):
        a.connect()
    with pytest.raises(VenueError, match="next connection attempt in"):
        a.connect()
    assert not a.connected()


def test_a_b3_day_order_that_expires_at_the_close_is_reported_expired(
    b3: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    bid, _ask, _ = b3.control.quote("WDOF26")
    with running(make("mt5-brazil"), client, names):
        order = new_order("mt5-brazil", "WDOF26", 2, order_type=OrderType.LIMIT, limit_price=bid - 10)
        send(client, names, order)
        wait_for(
            lambda: statuses(fills_of(client, names, order.client_order_id)) == [A], what="the order resting"
        )
        [resting] = b3("orders_get")
        assert (resting["type_time"], resting["type_filling"]) == (1, 2)  # ORDER_TIME_DAY, RETURN
        assert b3.control.expire_day_orders() == 1
        got = final_fill(client, names, order.client_order_id)
    assert statuses(got) == [A, OrderStatus.EXPIRED]


def test_the_kill_switch_cancels_our_working_orders_at_the_terminal(
    b3: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    bid, _ask, _ = b3.control.quote("WINZ25")
    with running(make("mt5-brazil"), client, names):
        order = new_order("mt5-brazil", "WINZ25", 3, order_type=OrderType.LIMIT, limit_price=bid - 500)
        send(client, names, order)
        wait_for(
            lambda: statuses(fills_of(client, names, order.client_order_id)) == [A], what="the order resting"
        )
        KillSwitch(client, names).set(True, reason="test", by="pytest")
        got = final_fill(client, names, order.client_order_id)
        wait_for(lambda: events(client, names, "killswitch_applied"), what="the kill switch applied")
    assert statuses(got) == [A, C]
    assert b3("orders_get") == ()


def test_the_poll_does_not_depend_on_the_configured_server_clock_offset(
    b3: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    """The adapter is told the server runs 3 h ahead of UTC; the (simulated) server runs on UTC. History
    windows come from the deals' own server times, so a partial fill of a working order is still found."""
    b3.control.set_partial_fills(4, 1)
    with running(make("mt5-brazil", mt5_server_utc_offset_s=10_800), client, names):
        order = new_order("mt5-brazil", "WDOF26", 4)
        send(client, names, order)
        wait_for(
            lambda: statuses(fills_of(client, names, order.client_order_id)) == [A, P], what="the first deal"
        )
        b3.control.process(1)  # a second deal while the order keeps working
        wait_for(
            lambda: statuses(fills_of(client, names, order.client_order_id)) == [A, P, P], what="the 2nd deal"
        )


def held(view: TerminalView, symbol: str) -> float:
    """What the terminal holds in `symbol`, netted (a long ticket is +volume, a short one -volume)."""
    return sum(
        p["volume"] * (1 if p["type"] == 0 else -1) for p in view("positions_get") if p["symbol"] == symbol
    )


def test_the_kill_switch_flattens_every_ticket_of_a_hedging_account(
    fx: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    with running(make("mt5-global"), client, names):
        for qty in (0.5, 0.3):  # two tickets on a hedging account
            order = new_order("mt5-global", "NAS100", qty)
            send(client, names, order)
            final_fill(client, names, order.client_order_id)
        assert len(fx("positions_get")) == 2
        closing = flatten_and_check(client, names, "mt5-global", lambda: held(fx, "NAS100"))
    assert sorted(f.cum_qty for f in closing) == [0.3, 0.5]  # one closing order per ticket
    assert fx("positions_get") == ()  # closed, not hedged by opposite tickets


def test_the_kill_switch_flattens_a_netting_b3_position(
    b3: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    with running(make("mt5-brazil"), client, names):
        order = new_order("mt5-brazil", "WINZ25", 4, Side.SELL)
        send(client, names, order)
        final_fill(client, names, order.client_order_id)
        [closing] = flatten_and_check(client, names, "mt5-brazil", lambda: held(b3, "WINZ25"))
    assert (closing.side, closing.cum_qty, closing.currency) == (Side.BUY, 4.0, "BRL")


def test_the_venue_heartbeat_carries_the_accounts_equity_a_usd_one_in_usd(
    fx: TerminalView, b3: TerminalView, make: Make, client: redis.Redis, names: Names
) -> None:
    with running(make("mt5-global", mt5_account_interval_s=0.2), client, names):
        equity = fx("account_info")["equity"]
        detail = wait_for(lambda: venue_equity(client, names, "mt5-global"),
                          what="the equity in the heartbeat")  # fmt: skip
        assert (detail["equity"], detail["equity_currency"], detail["equity_usd"]) == (equity, "USD", equity)
    with running(make("mt5-brazil", mt5_account_interval_s=0.2), client, names):
        equity = b3("account_info")["equity"]
        detail = wait_for(lambda: venue_equity(client, names, "mt5-brazil"),
                          what="the equity in the heartbeat")  # fmt: skip
        assert (detail["equity"], detail["equity_currency"]) == (equity, "BRL")
        assert "equity_usd" not in detail  # the router converts BRL at its own rate
