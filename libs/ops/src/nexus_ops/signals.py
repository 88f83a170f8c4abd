"""Signals from the operator's side: publish one on `nx:{signals}` (as the bridge would, after its
filters), follow the executions until each signal's final one, and print it with its legs. The demo
and `nexusctl send` use these.

A signal published here goes straight to the router: the bridge's filters and breakers do not see it,
the router's pre-trade risk does (a refusal comes back as a rejected final execution).
"""

from __future__ import annotations

import shlex
import time
from typing import Any

import msgpack
import msgspec
import redis
from rich.console import Console
from rich.table import Table

from nexus_mesh.publish import Output, Publisher
from nexus_protocol import Envelope, Execution, Names, Signal, decode, encode
from nexus_protocol.ids import new_signal_id

DEDUPE_TTL_MS = 86_400_000


def publish(client: redis.Redis, names: Names, signal: Signal) -> str:
    """Publish the signal (a fresh ULID when it has none) idempotently; its id."""
    if not signal.signal_id:
        signal = signal.replace(signal_id=new_signal_id())
    env = Envelope.new(signal, id=signal.signal_id)
    Publisher(client, dedupe_ttl_ms=DEDUPE_TTL_MS).publish([Output(names.signals, env)])
    return signal.signal_id


def redis_cli(names: Names, signal: Signal, url: str | None = None) -> str:
    """A POSIX shell command that XADDs `signal` with redis-cli alone: the header fields as text, the
    msgpack body (fields left at their defaults omitted) as printf octal escapes on redis-cli's stdin,
    which `-x` makes the last argument, `data`. `url`: the Redis to name (-u), if its URL may be shown."""
    if not signal.signal_id:
        signal = signal.replace(signal_id=new_signal_id())
    env = Envelope.new(signal, id=signal.signal_id)
    fields = {k: v for k, v in encode(env).items() if k != "data"}
    changed = {
        f.name: getattr(signal, f.name)
        for f in msgspec.structs.fields(signal)
        if f.required or getattr(signal, f.name) != f.default
    }
    body = msgpack.packb(msgspec.to_builtins(changed), use_bin_type=True)
    header = " ".join(f"{k} {shlex.quote(str(v))}" for k, v in fields.items())
    escaped = "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else f"\\{b:03o}" for b in body)
    target = f" -u {shlex.quote(url)}" if url else ""
    return f"printf '{escaped}' | redis-cli{target} -x XADD {shlex.quote(names.signals)} '*' {header} data"


def wait_finals(
    client: redis.Redis, names: Names, wanted: set[str], timeout_s: float = 20.0, since: str = "0-0"
) -> dict[str, tuple[Execution, float]]:
    """The final execution of each wanted signal (with the perf_counter time it was read), as many
    as arrive within the timeout."""
    finals: dict[str, tuple[Execution, float]] = {}
    cursor = since
    deadline = time.monotonic() + timeout_s
    while wanted - set(finals) and time.monotonic() < deadline:
        reply: Any = client.xread({names.executions: cursor}, block=500, count=100)
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                cursor = entry_id
                ex = decode(fields).body
                if isinstance(ex, Execution) and ex.final and ex.signal_id in wanted:
                    finals.setdefault(ex.signal_id, (ex, time.perf_counter()))
    return finals


def show(console: Console, ex: Execution, elapsed_ms: float | None = None) -> None:
    """One execution: its outcome, then a line per leg."""
    avg = f"{ex.avg_price:,.2f}" if ex.avg_price else "-"
    took = f", {elapsed_ms:.1f} ms" if elapsed_ms is not None else ""
    reason = f" ({ex.reason})" if ex.reason else ""
    console.print(
        f"\n[bold]{ex.side.value} {ex.quantity:g} {ex.symbol}[/] -> [bold]{ex.status.value}[/]{reason}, "
        f"{ex.filled_quantity:g} filled over {len(ex.legs)} venues, avg {avg}, "
        f"P&L USD {ex.realized_pnl_usd:,.2f}{took}  [dim]{ex.signal_id}[/]"
    )
    table = Table(box=None, show_header=False, pad_edge=False)
    for leg in ex.legs:  # each in its own instrument, quantity and currency; its P&L in USD
        table.add_row(
            "   ",
            leg.venue,
            leg.venue_symbol or "",
            f"{leg.venue_filled_qty:g}",
            f"@ {leg.avg_price:,.2f} {leg.currency}" if leg.avg_price else "",
            leg.status.value,
            f"P&L USD {leg.realized_pnl_usd:,.2f}" if leg.filled_quantity else "",
            leg.reason or "",
        )
    console.print(table)
