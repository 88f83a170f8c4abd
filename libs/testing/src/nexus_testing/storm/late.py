"""Why a signal became final late: every entry its trace left on the mesh's streams, with its time
after the send, so the leg and the hop that held it show (the report's `late`, beside the nemesis log)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import redis

from nexus_protocol.messages import Execution, Fill, Message, Order, Route, Signal
from nexus_protocol.streams import Names
from nexus_testing.storm.history import entries, entry_ms

_PATH = ("bridge:intake", "signals", "orders:routed", "fills:raw", "fills:normalized", "fills", "executions")


def what(body: Message) -> str:
    if isinstance(body, Fill):
        return f"{body.venue} {body.client_order_id} {body.status.value} cum {body.cum_qty:g}"
    if isinstance(body, Order):
        return f"{body.venue} {body.client_order_id}"
    if isinstance(body, Execution):
        legs = ", ".join(f"{leg.venue} {leg.status.value}" for leg in body.legs)
        return f"{body.status.value}{' final' if body.final else ''} ({legs})"
    if isinstance(body, Route | Signal):
        return body.symbol
    return body.TYPE


def timelines(
    client: redis.Redis, names: Names, venues: Iterable[str], sent_ms: Mapping[str, float]
) -> dict[str, list[str]]:
    """Per signal of `sent_ms` (id -> its send time, ms): `+12.3s orders:nt8 venue_order nt8 <coid>`..."""
    found: dict[str, list[tuple[int, int, str]]] = {sid: [] for sid in sent_ms}
    streams = [*_PATH[:3], *(f"orders:{v}" for v in sorted(venues)), *_PATH[3:]]
    for hop, logical in enumerate(streams):  # within one millisecond, in the path's order
        for entry_id, env in entries(client, names.stream(logical)):
            sid = env.trace or getattr(env.body, "signal_id", "")
            if sid in found:
                ms = entry_ms(entry_id)
                line = f"{(ms - sent_ms[sid]) / 1000:+.1f}s {logical} {what(env.body)}"
                found[sid].append((ms, hop, line))
    return {sid: [line for *_, line in sorted(lines)] for sid, lines in found.items()}
