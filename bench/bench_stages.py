"""Each gateway stage's handler time without I/O: decode the input entry, the stage's logic, encode
its outputs. Redis round trips are left out (they are the hop, measured by roundtrip.py); state
(de)serialization is kept in. The seed's gateway overhead target is under 15 us per message.

    python bench/bench_stages.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import msgpack

from nexus_gateway.fills.aggregate import SignalState, apply_fill, apply_route, execution
from nexus_gateway.fx.rates import Rate
from nexus_gateway.fx.service import convert
from nexus_gateway.normalizer.translate import Translator
from nexus_gateway.router.checks import decide
from nexus_gateway.router.limits import load_limits
from nexus_gateway.router.state import Snapshot
from nexus_mesh.config_files import load_symbols
from nexus_mesh.venues import load_venues
from nexus_protocol import Envelope, Fill, Order, OrderStatus, Side, Signal, decode, encode
from nexus_protocol.ids import new_signal_id

CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "config"
N = 20_000


def wire(env: Envelope) -> dict[bytes, bytes]:  # type: ignore[type-arg]
    return {k.encode(): (v.encode() if isinstance(v, str) else v) for k, v in encode(env).items()}


def timed(fn: Callable[[], object], n: int = N) -> float:
    for _ in range(n // 10):
        fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def report_stage_times() -> None:
    registry = load_symbols(CONFIG)
    venues = load_venues(CONFIG, "dev")
    limits = load_limits(CONFIG, "dev")
    snap = Snapshot(venue_connected={v: True for v in venues}, last_prices={"NQ": 21000.0})
    sid = new_signal_id()
    sig_fields = wire(Envelope.new(Signal(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=1), id=sid))

    def router() -> None:
        sig = decode(sig_fields).body
        d = decide(sig, snap, limits, venues, registry, throttled=False)  # type: ignore[arg-type]
        encode(Envelope.new(d.route, id="r"))
        for leg in d.route.legs:
            encode(
                Envelope.new(
                    Order(
                        client_order_id=leg.client_order_id,
                        signal_id=sid,
                        venue=leg.venue,
                        symbol="NQ",
                        side=Side.BUY,
                        quantity=1,
                    ),
                    id=leg.client_order_id,
                )
            )

    tr = Translator(registry)
    order_fields = wire(
        Envelope.new(
            Order(
                client_order_id=f"{sid}.n80",
                signal_id=sid,
                venue="nt8",
                symbol="NQ",
                side=Side.BUY,
                quantity=1,
            ),
            id=f"{sid}.n80",
        )
    )
    contracts = {"NQ": "NQH25"}

    def normalizer_order() -> None:
        encode(Envelope.new(tr.to_venue(decode(order_fields).body, contracts, 21000.0), id="o"))  # type: ignore[arg-type]

    raw_fill = Fill(
        fill_id="f",
        client_order_id=f"{sid}.n80",
        signal_id=sid,
        venue="nt8",
        status=OrderStatus.FILLED,
        venue_symbol="NQ 03-25",
        side=Side.BUY,
        last_qty=1,
        last_price=21000.0,
        cum_qty=1,
        avg_price=21000.0,
    )
    raw_fields = wire(Envelope.new(raw_fill, id="f"))

    def normalizer_fill() -> None:
        encode(Envelope.new(tr.fill(decode(raw_fields).body), id="f"))  # type: ignore[arg-type]

    norm_fields = wire(Envelope.new(tr.fill(raw_fill), id="f"))
    rate = Rate(currency="USD", usd_rate=Decimal(1), source="usd")

    def fx() -> None:
        encode(Envelope.new(convert(decode(norm_fields).body, rate), id="f"))  # type: ignore[arg-type]

    usd_fill = convert(tr.fill(raw_fill), rate)
    fills_fields = wire(Envelope.new(usd_fill, id="f"))
    state = apply_route(
        None, decide(decode(sig_fields).body, snap, limits, venues, registry, throttled=False).route
    )  # type: ignore[arg-type]
    state_raw = msgpack.packb(state.model_dump(mode="json"))

    def fills() -> None:
        f = decode(fills_fields).body
        s = SignalState.model_validate(msgpack.unpackb(state_raw))
        s = apply_fill(s, f, Decimal(0))  # type: ignore[arg-type]
        msgpack.packb(s.model_dump(mode="json"))
        encode(Envelope.new(execution(s), id="x"))

    print(f"\nhandler time without I/O, us per message ({N} runs each; target < 15 us):")
    for name, fn in (
        ("router (decode, risk, route 4 legs, encode 5)", router),
        ("normalizer order (decode, translate, encode)", normalizer_order),
        ("normalizer fill", normalizer_fill),
        ("fx (USD fill)", fx),
        ("fills (decode, state, aggregate, encode)", fills),
    ):
        print(f"  {name:<50} {timed(fn):8.1f}")


if __name__ == "__main__":
    report_stage_times()
