"""The measurement behind decision 0008: one message body through pydantic and through msgspec.

    python bench/codec_choice.py

The pydantic model is the Order the mesh used before (frozen, extra forbidden, finite floats); the
msgspec side is today's `nexus_protocol.messages.Order`. Same body, same bytes (checked), same run.
Figures only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgpack
import msgspec
from pydantic import BaseModel, ConfigDict, Field

from nexus_protocol.enums import OrderType, Side, TimeInForce
from nexus_protocol.messages import Order

N = 100_000


class PydanticOrder(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    client_order_id: str
    signal_id: str
    venue: str
    symbol: str
    side: Side
    quantity: float = Field(gt=0)
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    reference_price: float | None = None
    attempt: int = 0
    purpose: str = "signal"
    reduce_only: bool = False
    contract: str | None = None


def timed(fn: Callable[[], Any], n: int = N) -> float:
    for _ in range(n // 10):
        fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    fields: dict[str, Any] = {
        "client_order_id": "01JD3ZK6Q9X8V7W5T4S3R2P1N0.n80", "signal_id": "01JD3ZK6Q9X8V7W5T4S3R2P1N0",
        "venue": "nt8", "symbol": "NQ", "side": Side.BUY, "quantity": 1.0, "reference_price": 21000.25,
    }  # fmt: skip
    p = PydanticOrder(**fields)
    m = Order(**fields)
    old = msgpack.packb(p.model_dump(), use_bin_type=True)
    enc, dec = msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(Order)
    assert enc.encode(m) == old, "msgspec's bytes differ from the mesh's old encoding"
    rows = [
        ("pydantic validate_python(unpackb(body))",
         lambda: PydanticOrder.__pydantic_validator__.validate_python(msgpack.unpackb(old))),
        ("pydantic model_construct(**unpackb(body))",
         lambda: PydanticOrder.model_construct(**msgpack.unpackb(old))),
        ("pydantic packb(model_dump())", lambda: msgpack.packb(p.model_dump(), use_bin_type=True)),
        ("pydantic model_copy(update=...)", lambda: p.model_copy(update={"quantity": 2.0})),
        ("msgspec Decoder(Order).decode(body)", lambda: dec.decode(old)),
        ("msgspec Encoder().encode(order)", lambda: enc.encode(m)),
        ("msgspec structs.replace(order, ...)", lambda: msgspec.structs.replace(m, quantity=2.0)),
        ("msgspec convert(to_builtins) (edge check)", lambda: msgspec.convert(msgspec.to_builtins(m), Order)),
    ]  # fmt: skip
    print(f"one Order, {len(old)}-byte msgpack body (msgspec's encoding is byte-identical)")
    print(f"us per call, {N} calls each")
    for name, fn in rows:
        print(f"  {name:<44} {timed(fn):7.2f}")


if __name__ == "__main__":
    main()
