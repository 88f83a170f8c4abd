"""Trading on the simulated terminal, in process: retcodes, deals, positions and the injected faults,
for the hedging CFD account ('global', fixture `fx`) and the netting B3 account ('brazil', `b3`)."""

from __future__ import annotations

import pytest

from nexus_mt5.simulator import SimulatedDisconnect

from .conftest import OPEN_NS, Sim, SimFactory

BUY, SELL = 0, 1
EVER = (0, 4_000_000_000)  # a history window covering any simulated time


def trade_deals(sim: Sim) -> list[tuple[int, int, float]]:
    """(type, entry, volume) of every trade deal (the opening deposit left out)."""
    deals = sim.mt5.history_deals_get(*EVER)
    return [(d.type, d.entry, d.volume) for d in deals if d.type != sim.mt5.DEAL_TYPE_BALANCE]


# -- global: hedging, FOK/IOC, instant execution -------------------------------------------------------


def test_market_order_deal_and_position_carry_magic_and_comment(fx: Sim) -> None:
    mt5 = fx.mt5
    req = fx.market("NAS100", 0.25, BUY)
    result = mt5.order_send(req)
    assert result.retcode == mt5.TRADE_RETCODE_DONE
    assert (result.volume, result.price, result.ask) == (0.25, req["price"], req["price"])
    assert result.order > 0
    assert result.deal > 0
    assert result.request.magic == 4242
    (deal,) = mt5.history_deals_get(ticket=result.order)
    assert (deal.ticket, deal.entry, deal.type, deal.magic, deal.comment) == (
        result.deal, mt5.DEAL_ENTRY_IN, mt5.DEAL_TYPE_BUY, 4242, req["comment"],
    )  # fmt: skip
    (position,) = mt5.positions_get(symbol="NAS100")
    assert (position.ticket, position.identifier, position.magic, position.comment) == (
        result.order, result.order, 4242, req["comment"],
    )  # fmt: skip
    assert position.profit == pytest.approx(-0.25 * 1.5, abs=0.01)  # marked at the bid: one spread down
    (order,) = mt5.history_orders_get(*EVER)
    assert (order.ticket, order.state, order.comment, order.position_id) == (
        result.order, mt5.ORDER_STATE_FILLED, req["comment"], result.order,
    )  # fmt: skip
    assert mt5.orders_get() == ()
    balance_deal = mt5.history_deals_get(*EVER)[0]
    assert (balance_deal.type, balance_deal.profit) == (mt5.DEAL_TYPE_BALANCE, 100_000.0)


def test_hedging_keeps_opposite_positions_and_closes_by_ticket(fx: Sim) -> None:
    mt5 = fx.mt5
    long = mt5.order_send(fx.market("XAUUSD", 0.1, BUY))
    short = mt5.order_send(fx.market("XAUUSD", 0.1, SELL, comment="hedge"))
    assert sorted(p.ticket for p in mt5.positions_get()) == [long.order, short.order]
    fx.control.set_price("XAUUSD", 2_660.0)  # +10 on 0.1 lot of 100 oz
    close = mt5.order_send(fx.market("XAUUSD", 0.1, SELL, position=long.order, comment="close"))
    assert close.retcode == mt5.TRADE_RETCODE_DONE
    assert [p.ticket for p in mt5.positions_get()] == [short.order]
    out = mt5.history_deals_get(ticket=close.order)[0]
    assert (out.entry, out.position_id) == (mt5.DEAL_ENTRY_OUT, long.order)
    assert out.profit == pytest.approx((2_659.9 - 2_650.1) * 0.1 * 100)
    assert [d.entry for d in mt5.history_deals_get(position=long.order)] == [
        mt5.DEAL_ENTRY_IN,
        mt5.DEAL_ENTRY_OUT,
    ]
    gone = mt5.order_send(fx.market("XAUUSD", 0.1, SELL, position=long.order))
    assert gone.retcode == mt5.TRADE_RETCODE_POSITION_CLOSED
    assert gone.order == 0


def test_return_filling_is_refused_on_cfds(fx: Sim) -> None:
    result = fx.mt5.order_send(fx.market("NAS100", 0.1, BUY, type_filling=fx.mt5.ORDER_FILLING_RETURN))
    assert (result.retcode, result.order) == (fx.mt5.TRADE_RETCODE_INVALID_FILL, 0)
    assert (
        fx.mt5.order_send(fx.market("NAS100", 0.1, BUY, type_filling=fx.mt5.ORDER_FILLING_FOK)).retcode
        == 10009
    )
    assert fx.mt5.orders_get() == ()
    assert len(fx.mt5.positions_get()) == 1


@pytest.mark.parametrize("volume", [0.0, 0.005, 0.015, 101.0])
def test_invalid_volume(fx: Sim, volume: float) -> None:
    assert fx.mt5.order_send(fx.market("NAS100", volume, BUY)).retcode == fx.mt5.TRADE_RETCODE_INVALID_VOLUME
    assert fx.mt5.order_check(fx.market("NAS100", volume, BUY)).retcode == fx.mt5.TRADE_RETCODE_INVALID_VOLUME


def test_no_money(fx: Sim) -> None:
    req = fx.market("BTCUSD", 3.0, BUY)  # 3 x 95k x 50% margin > 100k
    assert fx.mt5.order_check(req).retcode == fx.mt5.TRADE_RETCODE_NO_MONEY
    result = fx.mt5.order_send(req)
    assert (result.retcode, result.order) == (fx.mt5.TRADE_RETCODE_NO_MONEY, 0)
    assert fx.mt5.history_orders_get(*EVER) == ()


def test_market_closed_at_the_weekend_and_by_switch(make_sim: SimFactory) -> None:
    fx = make_sim("global", start_ns=OPEN_NS + 5 * 86_400 * 1_000_000_000)  # Saturday
    assert fx.mt5.order_send(fx.market("NAS100", 0.1, BUY)).retcode == fx.mt5.TRADE_RETCODE_MARKET_CLOSED
    assert fx.mt5.order_send(fx.market("BTCUSD", 0.1, BUY)).retcode == fx.mt5.TRADE_RETCODE_DONE  # 24/7
    fx.control.set_market_open(True, "NAS100")
    assert fx.mt5.order_send(fx.market("NAS100", 0.1, BUY)).retcode == fx.mt5.TRADE_RETCODE_DONE
    fx.control.set_market_open(False)
    assert fx.mt5.order_check(fx.market("BTCUSD", 0.1, BUY)).retcode == fx.mt5.TRADE_RETCODE_MARKET_CLOSED


def test_autotrading_switch(fx: Sim) -> None:
    fx.control.set_autotrading(False)
    assert fx.mt5.terminal_info().trade_allowed is False
    result = fx.mt5.order_send(fx.market("NAS100", 0.1, BUY))
    assert (result.retcode, result.order) == (fx.mt5.TRADE_RETCODE_CLIENT_DISABLES_AT, 0)
    assert fx.mt5.order_check(fx.market("NAS100", 0.1, BUY)).retcode == 10027
    fx.control.set_autotrading(True)
    assert fx.mt5.order_send(fx.market("NAS100", 0.1, BUY)).retcode == fx.mt5.TRADE_RETCODE_DONE


def test_injected_requote_moves_the_price(fx: Sim) -> None:
    req = fx.market("NAS100", 0.1, BUY)
    fx.control.requote_next(move_ticks=300)
    result = fx.mt5.order_send(req)
    assert (result.retcode, result.order, result.deal) == (fx.mt5.TRADE_RETCODE_REQUOTE, 0, 0)
    assert result.ask == pytest.approx(req["price"] + 3.0)
    assert result.price == result.ask
    assert fx.mt5.order_send(req).retcode == fx.mt5.TRADE_RETCODE_REQUOTE  # old price, deviation 20 points
    retry = fx.mt5.order_send({**req, "price": result.ask})
    assert (retry.retcode, retry.price) == (fx.mt5.TRADE_RETCODE_DONE, result.ask)


def test_deviation_bounds_a_market_order(fx: Sim) -> None:
    req = fx.market("US30", 0.1, SELL, deviation=10)  # 10 points = 0.10
    bid = req["price"]
    fx.control.set_quote("US30", bid - 0.11, bid + 1.89)
    assert fx.mt5.order_send(req).retcode == fx.mt5.TRADE_RETCODE_REQUOTE
    fx.control.set_quote("US30", bid - 0.10, bid + 1.90)
    done = fx.mt5.order_send(req)
    assert (done.retcode, done.price) == (fx.mt5.TRADE_RETCODE_DONE, pytest.approx(bid - 0.10))
    assert (
        fx.mt5.order_send({**req, "price": 0.0}).retcode == fx.mt5.TRADE_RETCODE_DONE
    )  # no price: at market


def test_injected_reject_with_any_retcode(fx: Sim) -> None:
    fx.control.reject_next(retcode=fx.mt5.TRADE_RETCODE_TOO_MANY_REQUESTS, comment="Too many requests")
    result = fx.mt5.order_send(fx.market("NAS100", 0.1, BUY))
    assert (result.retcode, result.comment, result.order) == (10024, "Too many requests", 0)
    fx.control.reject_next()
    assert fx.mt5.order_send(fx.market("NAS100", 0.1, BUY)).retcode == fx.mt5.TRADE_RETCODE_REJECT
    assert fx.mt5.order_send(fx.market("NAS100", 0.1, BUY)).retcode == fx.mt5.TRADE_RETCODE_DONE


def test_limit_order_rests_fills_and_can_be_removed(fx: Sim) -> None:
    mt5 = fx.mt5
    bid = fx.tick("NAS100").bid
    limit = {
        **fx.market("NAS100", 0.2, mt5.ORDER_TYPE_BUY_LIMIT),
        "action": mt5.TRADE_ACTION_PENDING,
        "price": bid - 10,
    }
    assert (
        mt5.order_send({**limit, "price": bid + 10}).retcode == mt5.TRADE_RETCODE_INVALID_PRICE
    )  # above ask
    placed = mt5.order_send(limit)
    assert (placed.retcode, placed.deal) == (mt5.TRADE_RETCODE_DONE, 0)
    assert placed.order
    (working,) = mt5.orders_get(symbol="NAS100")
    assert (working.ticket, working.state, working.price_open, working.volume_current) == (
        placed.order, mt5.ORDER_STATE_PLACED, bid - 10, 0.2,
    )  # fmt: skip
    moved = mt5.order_send({"action": mt5.TRADE_ACTION_MODIFY, "order": placed.order, "price": bid - 20})
    assert moved.retcode == mt5.TRADE_RETCODE_DONE
    assert mt5.orders_get()[0].price_open == bid - 20
    fx.control.set_price("NAS100", bid - 25)
    assert mt5.orders_get() == ()
    (deal,) = mt5.history_deals_get(ticket=placed.order)
    assert (deal.price, deal.volume, deal.comment) == (bid - 20, 0.2, limit["comment"])
    second = mt5.order_send({**limit, "price": bid - 100})
    removed = mt5.order_send({"action": mt5.TRADE_ACTION_REMOVE, "order": second.order})
    assert removed.retcode == mt5.TRADE_RETCODE_DONE
    assert mt5.orders_get() == ()
    assert mt5.history_orders_get(ticket=second.order)[0].state == mt5.ORDER_STATE_CANCELED
    again = mt5.order_send({"action": mt5.TRADE_ACTION_REMOVE, "order": second.order})
    assert again.retcode == mt5.TRADE_RETCODE_INVALID


def test_order_check_reports_margin_without_trading(fx: Sim) -> None:
    check = fx.mt5.order_check(fx.market("NAS100", 1.0, BUY))
    assert (check.retcode, check.comment) == (0, "Done")
    assert check.margin == pytest.approx(210.01, abs=0.01)  # 1% of 21000.75 x 1
    assert check.margin_free == pytest.approx(100_000 - check.margin)
    assert check.request.volume == 1.0
    assert fx.mt5.positions_get() == ()
    assert fx.mt5.orders_get() == ()


def test_commission_per_lot(make_sim: SimFactory) -> None:
    fx = make_sim("global", commission_per_lot=7.0)
    fx.mt5.order_send(fx.market("US30", 0.5, BUY))
    deal = fx.mt5.history_deals_get(*EVER)[-1]
    assert (deal.commission, deal.swap, deal.fee) == (-3.5, 0.0, 0.0)
    assert fx.mt5.account_info().balance == 100_000 - 3.5


def test_drop_after_send_places_the_order_then_raises(fx: Sim) -> None:
    fx.control.drop_after_send()
    req = fx.market("NAS100", 0.1, BUY, comment="unknown.MT0")
    with pytest.raises(SimulatedDisconnect):
        fx.mt5.order_send(req)
    (position,) = fx.mt5.positions_get()
    assert position.comment == "unknown.MT0"  # the adapter finds it by comment
    assert fx.mt5.order_send(req).retcode == fx.mt5.TRADE_RETCODE_DONE  # fault fired once


def test_drop_before_send_loses_the_order(fx: Sim) -> None:
    fx.control.drop_before_send()
    with pytest.raises(ConnectionError):
        fx.mt5.order_send(fx.market("NAS100", 0.1, BUY))
    assert fx.mt5.positions_get() == ()
    assert fx.mt5.history_orders_get(*EVER) == ()


# -- brazil: netting, RETURN only, exchange execution ---------------------------------------------------


def test_netting_entries_and_position_identifier(b3: Sim) -> None:
    mt5 = b3.mt5
    first = mt5.order_send(b3.market("WINZ25", 3, BUY, comment="a"))
    mt5.order_send(b3.market("WINZ25", 2, BUY, comment="b"))
    mt5.order_send(b3.market("WINZ25", 1, SELL, comment="c"))
    (position,) = mt5.positions_get()
    assert (position.ticket, position.identifier, position.volume, position.type) == (
        first.order,
        first.order,
        4,
        0,
    )
    assert position.comment == "a"
    reverse = mt5.order_send(b3.market("WINZ25", 6, SELL, comment="d"))
    (position,) = mt5.positions_get()
    assert (position.identifier, position.volume, position.type) == (first.order, 2, mt5.POSITION_TYPE_SELL)
    mt5.order_send(b3.market("WINZ25", 2, BUY, comment="e"))
    assert mt5.positions_get() == ()
    assert trade_deals(b3) == [(0, 0, 3.0), (0, 0, 2.0), (1, 1, 1.0), (1, 2, 6.0), (0, 1, 2.0)]
    assert {d.position_id for d in mt5.history_deals_get(*EVER) if d.symbol} == {first.order}
    again = mt5.order_send(b3.market("WINZ25", 1, BUY))
    assert mt5.positions_get()[0].identifier == again.order != first.order
    assert mt5.history_orders_get(position=first.order)[-1].ticket == reverse.order + 1


def test_partial_fills_of_a_market_order_all_inside_order_send(b3: Sim) -> None:
    b3.control.set_partial_fills(3)
    result = b3.mt5.order_send(b3.market("WINZ25", 7, BUY))
    assert (result.retcode, result.volume) == (b3.mt5.TRADE_RETCODE_DONE, 7.0)
    deals = b3.mt5.history_deals_get(ticket=result.order)
    assert [d.volume for d in deals] == [3.0, 3.0, 1.0]
    assert result.deal == deals[0].ticket
    assert {(d.magic, d.comment) for d in deals} == {(4242, "01JDX3K7Q8ZP4V5W6X7Y8Z9A0B.MT0")}


def test_partial_fill_returns_done_partial_and_the_rest_works_on(b3: Sim) -> None:
    mt5 = b3.mt5
    b3.control.set_partial_fills(3, immediate=1)
    result = mt5.order_send(b3.market("WDOF26", 5, SELL, type_time=mt5.ORDER_TIME_DAY))
    assert (result.retcode, result.volume) == (mt5.TRADE_RETCODE_DONE_PARTIAL, 2.0)
    (working,) = mt5.orders_get()
    assert (working.ticket, working.state, working.volume_initial, working.volume_current) == (
        result.order, mt5.ORDER_STATE_PARTIAL, 5.0, 3.0,
    )  # fmt: skip
    assert mt5.positions_get()[0].volume == 2.0
    assert b3.control.process(5) == 2
    assert mt5.orders_get() == ()
    assert mt5.positions_get()[0].volume == 5.0
    assert [d.volume for d in mt5.history_deals_get(ticket=result.order)] == [2.0, 2.0, 1.0]


def test_b3_refuses_fok_ioc_and_continuous_symbols(b3: Sim) -> None:
    mt5 = b3.mt5
    for filling in (mt5.ORDER_FILLING_FOK, mt5.ORDER_FILLING_IOC):
        assert mt5.order_send(b3.market("WINZ25", 1, BUY, type_filling=filling)).retcode == 10030
    assert mt5.order_send(b3.market("WIN$", 1, BUY)).retcode == mt5.TRADE_RETCODE_TRADE_DISABLED
    assert mt5.order_send(b3.market("WINZ25", 1.5, BUY)).retcode == mt5.TRADE_RETCODE_INVALID_VOLUME


def test_b3_trading_hours(b3: Sim) -> None:
    b3.clock.advance(s=7 * 3600 + 25 * 60)  # 18:25 in São Paulo
    result = b3.mt5.order_send(b3.market("WINZ25", 1, BUY))
    assert (result.retcode, result.order) == (b3.mt5.TRADE_RETCODE_MARKET_CLOSED, 0)
    b3.control.set_market_open(True)
    assert b3.mt5.order_send(b3.market("WINZ25", 1, BUY)).retcode == b3.mt5.TRADE_RETCODE_DONE


def test_b3_marketable_limit_and_day_expiry(b3: Sim) -> None:
    mt5 = b3.mt5
    ask = b3.tick("WINZ25").ask
    pending = {**b3.market("WINZ25", 2, mt5.ORDER_TYPE_BUY_LIMIT), "action": mt5.TRADE_ACTION_PENDING}
    crossing = mt5.order_send({**pending, "price": ask + 50})
    assert (crossing.retcode, crossing.volume, crossing.price) == (mt5.TRADE_RETCODE_DONE, 2.0, ask)
    resting = mt5.order_send({**pending, "price": ask - 500, "type_time": mt5.ORDER_TIME_DAY})
    assert resting.retcode == mt5.TRADE_RETCODE_DONE
    assert resting.deal == 0
    assert b3.control.expire_day_orders() == 1
    assert mt5.history_orders_get(ticket=resting.order)[0].state == mt5.ORDER_STATE_EXPIRED


def test_b3_money_in_brl(b3: Sim) -> None:
    mt5 = b3.mt5
    mt5.order_send(b3.market("WINZ25", 10, BUY))
    b3.control.set_price("WINZ25", 125_505.0)  # bid 125505: +500 points on 10 contracts at R$0.20
    info = mt5.account_info()
    assert info.profit == pytest.approx((125_505 - 125_005) * 10 * 0.2)
    assert info.balance == pytest.approx(50_000 - 10 * 0.25)  # commission R$0.25 per contract
    assert info.margin == pytest.approx(10 * 100.0)
    assert mt5.order_calc_profit(mt5.ORDER_TYPE_BUY, "WINZ25", 1, 125_000, 125_100) == pytest.approx(20.0)
