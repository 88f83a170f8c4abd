"""Each gateway stage's handler time without I/O: decode the input entry, the stage's own handler
(as the processor calls it, with its state in an in-memory view), encode its outputs. Redis round
trips are left out (they are the hop, measured by roundtrip.py and hop.py); state (de)serialization
is kept in. The budget is under 15 us per message per stage (docs/design.md, Stages).

    python bench/bench_stages.py
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from nexus_gateway.fills.aggregate import apply_route, dump_state
from nexus_gateway.fills.checks import leg_problem, report_problem
from nexus_gateway.fills.config import FillsSettings
from nexus_gateway.fills.service import FillsStage
from nexus_gateway.fx.config import FxSettings
from nexus_gateway.fx.rates import RateBook
from nexus_gateway.fx.service import FxStage
from nexus_gateway.normalizer.config import NormalizerSettings
from nexus_gateway.normalizer.service import Normalizer
from nexus_gateway.normalizer.translate import Translator
from nexus_gateway.router.config import RouterSettings
from nexus_gateway.router.limits import load_limits
from nexus_gateway.router.service import Router
from nexus_mesh.config_files import load_symbols
from nexus_mesh.context import Context, stage_context
from nexus_mesh.state import Result, StateView
from nexus_mesh.venues import load_venues
from nexus_protocol import Envelope, Fill, Heartbeat, Order, OrderStatus, Route, Side, Signal, decode, encode
from nexus_protocol.codec import pack
from nexus_protocol.ids import client_order_id, new_signal_id

CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "config"
N = int(os.environ.get("BENCH_N", "20000"))
NQ_VENUES = ("nt8", "sierra", "quantower", "mt5-global")


def wire(env: Envelope[Any]) -> dict[bytes, bytes]:
    return {k.encode(): (v.encode() if isinstance(v, str) else v) for k, v in encode(env).items()}


def timed(fn: Callable[[int], object], n: int = N) -> float:
    for i in range(n // 10):
        fn(i)
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n * 1e6


def stage(
    handler: Callable[[Envelope[Any], Context], Any], ctx: Context, entries: list[Any]
) -> Callable[[int], None]:
    """decode -> handler -> encode every output, as the processor does for one entry."""

    def run(i: int) -> None:
        got = handler(decode(entries[i % len(entries)]), ctx)
        for o in got.outputs if isinstance(got, Result) else got:
            encode(o.envelope)

    return run


def report_stage_times() -> None:
    registry = load_symbols(CONFIG)
    venues = load_venues(CONFIG, "dev")
    router_settings = RouterSettings(namespace="b", environment="dev")
    names = router_settings.names
    router = Router(router_settings, venues, load_limits(CONFIG, "dev"), registry)
    hb = {
        v: pack(Heartbeat(service="a", instance="i", started_ns=0, venue=v, venue_connected=True))
        for v in NQ_VENUES
    }
    router_view = StateView.of(
        hashes={names.state("md", "last"): {"NQ": "21000.0"}},
        strings={names.control("venue", v): raw for v, raw in hb.items()},
    )
    now = time.time_ns()
    signals = [
        wire(
            Envelope.new(
                Signal(signal_id=(s := new_signal_id()), symbol="NQ", side=Side.BUY, quantity=1), id=s, ts=now
            )
        )
        for _ in range(N)
    ]
    sid = new_signal_id()
    coid = client_order_id(sid, "n8")
    order = Order(client_order_id=coid, signal_id=sid, venue="nt8", symbol="NQ", side=Side.BUY, quantity=1)
    norm = Normalizer(NormalizerSettings(namespace="b", environment="dev"), Translator(registry))
    norm_view = StateView.of(hashes={names.contracts: {"NQ": "NQH25"}})
    raw_fill = Fill(
        fill_id=f"{coid}:x:1", client_order_id=coid, signal_id=sid, venue="nt8", status=OrderStatus.FILLED,
        venue_symbol="NQ 03-25", side=Side.BUY, last_qty=1, last_price=21000.0, cum_qty=1, avg_price=21000.0,
    )  # fmt: skip
    normalized = norm.tr.fill(raw_fill)
    fx = FxStage(FxSettings(namespace="b", fx_source="fixed", fx_fixed_usdbrl=Decimal("5.49")),
                 RateBook(max_age_s=120, usdbrl_source="fixed", fixed_usdbrl=Decimal("5.49")))  # fmt: skip
    fx_view = StateView.of()
    usd_fill = normalized.replace(usd_rate=1.0, fee_usd=0.0)
    fills = FillsStage(FillsSettings(namespace="b").names)
    own = wire(Envelope.new(Signal(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=1), id=sid, ts=now))
    routed = router.on_signal(decode(own), stage_context(router_settings, router_view, clock_ns=now))
    legs = routed.outputs[0].envelope.body.legs
    route = Route(signal_id=sid, symbol="NQ", side=Side.BUY, quantity=1, reference_price=21000.0, legs=legs)
    fills_view = StateView.of(hashes={fills.k_signals: {sid: dump_state(apply_route(None, route))}})

    def ctx(settings: Any, view: StateView) -> Context:
        return stage_context(settings, view, clock_ns=now)

    rs = router_settings
    cases = (
        ("router (decode, risk, route 4 legs, encode 6)",
         stage(router.on_signal, ctx(rs, router_view), signals)),
        ("normalizer order (decode, translate, encode)",
         stage(norm.on_order, ctx(rs, norm_view), [wire(Envelope.new(order, id=coid))])),
        ("normalizer fill", stage(norm.on_fill, ctx(rs, norm_view), [wire(Envelope.new(raw_fill, id="f"))])),
        ("fx (USD fill)", stage(fx.handle_fill, ctx(rs, fx_view), [wire(Envelope.new(normalized, id="f"))])),
        ("fills (decode, state, aggregate, encode)",
         stage(fills.handle, ctx(rs, fills_view), [wire(Envelope.new(usd_fill, id="f"))])),
    )  # fmt: skip
    print(f"\nhandler time without I/O, us per message ({N} runs each; target < 15 us):")
    for name, fn in cases:
        print(f"  {name:<50} {timed(fn):8.1f}")
    state = apply_route(None, route)
    checks = (  # the checks every fill passes (issue 15), alone: their share of the two stages above
        ("  of which the normalizer's report_problem", lambda _i: report_problem(raw_fill)),
        ("  of which the fills stage's both checks",
         lambda _i: report_problem(usd_fill) or leg_problem(state, usd_fill)),
    )  # fmt: skip
    for name, fn in checks:
        print(f"  {name:<50} {timed(fn):8.2f}")


if __name__ == "__main__":
    report_stage_times()
