"""The fx stage as a process: BRL fills converted at the WDO rate, held while the rate is stale and
released exactly once, USD fills passed at 1, the seed's 3.64 example with a fixed rate."""

from __future__ import annotations

import time
from typing import Any

import redis

from nexus_protocol import Envelope, Event, Fill, Heartbeat, Names, OrderStatus, Side, Tick
from nexus_protocol.codec import unpack
from nexus_testing import Services, read_stream, wait_for, xadd

S = 1_000_000_000
FAST = {"NX_FX_TICK_INTERVAL_S": "0.1", "NX_HEARTBEAT_TTL_MS": "600"}
SID = "01JQ0000000000000000000000"


def fill(n: int, currency: str = "BRL", fee: float = 20.0, symbol: str = "WIN") -> Envelope[Fill]:
    body = Fill(
        fill_id=f"{SID}.sm0:{n}",
        client_order_id=f"{SID}.sm0",
        signal_id=SID,
        venue="sim",
        status=OrderStatus.PARTIALLY_FILLED,
        venue_symbol=f"{symbol}M25",
        side=Side.BUY,
        last_qty=1,
        last_price=130000.0,
        cum_qty=n,
        fee=fee,
        currency=currency,
        symbol=symbol,
        contract=f"{symbol}M25",
        qty_factor=1.0,
        point_value=0.2,
    )
    return Envelope.new(body, id=body.fill_id, trace=SID)


def wdo_tick(client: redis.Redis, names: Names, price: float, age_s: float = 0.0) -> None:
    tick = Tick(venue="sim", symbol="WDO", contract="WDON25", last=price)
    xadd(
        client,
        names.md("WDO"),
        Envelope.new(tick, id=f"wdo:{time.time_ns()}", ts=time.time_ns() - int(age_s * S)),
    )


def out_fills(client: redis.Redis, names: Names) -> list[Envelope[Fill]]:
    return [e for e in read_stream(client, names.fills) if isinstance(e.body, Fill)]  # type: ignore[misc]


def events(client: redis.Redis, names: Names, kind: str) -> list[Envelope[Event]]:
    found = [
        e for e in read_stream(client, names.events) if isinstance(e.body, Event) and e.body.kind == kind
    ]
    return found  # type: ignore[return-value]


def ticks(client: redis.Redis, names: Names, instance: str) -> int:
    raw = client.get(names.health("fx", instance))
    hb: Any = unpack(raw) if raw is not None else None  # type: ignore[arg-type]
    return int(hb.detail.get("ticks", 0)) if isinstance(hb, Heartbeat) else 0


def pending(client: redis.Redis, names: Names) -> int:
    return int(client.xpending(names.fills_normalized, "fx")["pending"])


def test_brl_fill_converted_at_a_fresh_wdo_rate_keeping_its_id(
    client: redis.Redis, names: Names, services: Services
) -> None:
    wdo_tick(client, names, 5490.0)
    services.start("nexus_gateway.fx", **FAST)
    xadd(client, names.fills_normalized, fill(1))
    [out] = wait_for(lambda: out_fills(client, names), what="the converted fill")
    assert out.id == fill(1).id
    assert out.trace == SID
    assert out.body.usd_rate == 0.182149362477  # 1 / 5.49 to 12 significant digits
    assert out.body.fee_usd == 3.64  # BRL 20.00 at USDBRL 5.49
    assert out.body.replace(usd_rate=None, fee_usd=None) == fill(1).body


def test_stale_rate_holds_the_fill_then_a_fresh_tick_releases_it_once(
    client: redis.Redis, names: Names, services: Services
) -> None:
    wdo_tick(client, names, 5490.0, age_s=300)
    proc = services.start("nexus_gateway.fx", **FAST)
    xadd(client, names.fills_normalized, fill(1))
    xadd(client, names.fills_normalized, fill(2))
    xadd(client, names.fills_normalized, fill(3, currency="USD", fee=1.5, symbol="NQ"))
    wait_for(lambda: len(events(client, names, "fx_stale")) == 2, what="two fx_stale events")
    wait_for(lambda: pending(client, names) == 0, what="inputs acknowledged")
    held = events(client, names, "fx_stale")
    assert [e.body.data["fill_id"] for e in held] == [fill(1).id, fill(2).id]
    assert held[0].body.severity == "warning"
    assert held[0].body.data["rate_age_s"] >= 300
    assert held[0].body.data["pair"] == "USDBRL"
    assert held[0].body.client_order_id == f"{SID}.sm0"
    assert client.hlen(names.state("fx", "held")) == 2
    [usd] = out_fills(client, names)  # the USD fill does not wait
    assert (usd.id, usd.body.usd_rate, usd.body.fee_usd) == (fill(3).id, 1.0, 1.5)
    wait_for(lambda: len(events(client, names, "fx_rate_stale")) == 1, what="the rate-stale warning")

    wdo_tick(client, names, 5500.0)
    wait_for(lambda: len(out_fills(client, names)) == 3, what="the held fills released")
    done = ticks(client, names, proc.name)
    wait_for(lambda: ticks(client, names, proc.name) >= done + 5, what="more ticks")
    outs = out_fills(client, names)
    assert [e.id for e in outs] == [fill(3).id, fill(1).id, fill(2).id]  # released in arrival order, once
    assert outs[1].body.usd_rate == 0.181818181818  # 1 / 5.50
    assert outs[1].body.fee_usd == 3.64
    assert client.hlen(names.state("fx", "held")) == 0
    assert len(events(client, names, "fx_stale")) == 2


def test_held_fills_survive_a_crash_and_are_released_once_after_restart(
    client: redis.Redis, names: Names, services: Services
) -> None:
    first = services.start("nexus_gateway.fx", **FAST)  # no WDO data at all: missing rate
    xadd(client, names.fills_normalized, fill(1))
    wait_for(lambda: events(client, names, "fx_stale"), what="fx_stale")
    assert events(client, names, "fx_stale")[0].body.data["reason"] == "missing"
    wait_for(lambda: pending(client, names) == 0, what="input acknowledged")
    first.sigkill()
    wdo_tick(client, names, 5490.0)
    xadd(client, names.fills_normalized, fill(1))  # a replay of the same fill
    xadd(client, names.fills_normalized, fill(2))
    services.start("nexus_gateway.fx", **FAST)
    wait_for(
        lambda: len(out_fills(client, names)) == 2 and client.hlen(names.state("fx", "held")) == 0,
        what="release after restart",
    )
    assert [e.id for e in out_fills(client, names)] == [fill(1).id, fill(2).id]
    assert len(events(client, names, "fx_stale")) == 1


def test_usd_fills_pass_at_one_without_any_rate(
    client: redis.Redis, names: Names, services: Services
) -> None:
    services.start("nexus_gateway.fx", **FAST)
    xadd(client, names.fills_normalized, fill(1, currency="USD", fee=2.345, symbol="NQ"))
    [out] = wait_for(lambda: out_fills(client, names), what="the USD fill")
    assert (out.body.usd_rate, out.body.fee_usd) == (1.0, 2.35)


def test_seed_example_with_a_fixed_rate(client: redis.Redis, names: Names, services: Services) -> None:
    """100 WIN points at BRL 0.20 per point per contract = BRL 20.00 = USD 3.64 at USDBRL 5.49."""
    wdo_tick(client, names, 9999.0)  # ignored: the fixed source does not read market data
    services.start(
        "nexus_gateway.fx", NX_FX_SOURCE="fixed", NX_FX_FIXED_USDBRL="5.49", NX_FX_MAX_AGE_S="1", **FAST
    )
    xadd(client, names.fills_normalized, fill(1, fee=100 * 0.20))
    [out] = wait_for(lambda: out_fills(client, names), what="the converted fill")
    assert out.body.fee_usd == 3.64
    assert out.body.usd_rate == 0.182149362477


def test_unknown_currency_is_held_naming_the_pair(
    client: redis.Redis, names: Names, services: Services
) -> None:
    services.start("nexus_gateway.fx", NX_FX_SOURCE="fixed", NX_FX_FIXED_USDBRL="5.49", **FAST)
    xadd(client, names.fills_normalized, fill(1, currency="GBP", fee=1.0))
    [event] = wait_for(lambda: events(client, names, "fx_unknown_pair"), what="fx_unknown_pair")
    assert event.body.data["pair"] == "GBPUSD"
    assert "GBPUSD" in event.body.message
    assert client.hexists(names.state("fx", "held"), fill(1).id)
    assert out_fills(client, names) == []


def test_fixed_source_without_a_rate_exits_2_naming_the_variable(services: Services) -> None:
    proc = services.start("nexus_gateway.fx", NX_FX_SOURCE="fixed")
    assert proc.proc is not None
    assert proc.proc.wait(20) == 2
    assert "NX_FX_FIXED_USDBRL" in proc.log()
