"""nexusctl's stream commands: `tail` (a stream's entries, decoded, one line each) and `send` (one
signal to the router, its final execution followed and printed)."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.markup import escape

from nexus_ops import cliutil as cu
from nexus_protocol import Names, Side, Signal
from nexus_protocol.codec import InvalidMessage, validated
from nexus_protocol.enums import OrderType
from nexus_protocol.errors import ConfigError


def tail(
    stream: str = typer.Argument(
        ..., help="signals, orders:routed, fills, executions, events, dlq, md:NQ... or a key: 'nx:{signals}'"
    ),
    count: int = typer.Option(20, "-n", help="how many of the latest entries"),
    follow: bool = typer.Option(False, "-f", help="then wait for new ones"),
    as_json: bool = typer.Option(False, "--json", help="JSON lines on a terminal too (always when piped)"),
) -> None:
    """Print a stream's entries, decoded; dead letters with their reason, origin and original entry.

    On a terminal one line per entry; piped or with --json one JSON object per line (never wrapped)."""
    from nexus_ops import tail as tail_mod

    client, names = cu.client(), Names(cu.namespace())
    try:
        key = tail_mod.resolve(client, names, stream, tail_mod.known_streams(names, cu.config_dir()))
    except ConfigError as exc:
        cu.console.print(f"[red]nexusctl tail: {escape(str(exc))}[/]", highlight=False)
        raise typer.Exit(2) from None
    line = tail_mod.as_json if as_json or not sys.stdout.isatty() else tail_mod.as_text
    rows: Any = client.xrevrange(key, count=count) if count > 0 else []
    latest: Any = rows or client.xrevrange(key, count=1)
    cursor = latest[0][0] if latest else b"0-0"
    for entry_id, fields in reversed(rows):
        print(line(tail_mod.render(key, entry_id, fields)), flush=True)
    while follow:
        reply: Any = client.xread({key: cursor}, block=1000)
        for _s, entries in reply or []:
            for cursor, fields in entries:
                print(line(tail_mod.render(key, cursor, fields)), flush=True)


def send(
    symbol: str = typer.Argument(..., help="universal root: NQ, ES, WIN..."),
    side: str = typer.Argument(..., help="buy or sell"),
    quantity: float = typer.Argument(..., help="in universal units (contracts of the root)"),
    confidence: float | None = typer.Option(None, help="0..1, recorded with the signal"),
    limit: float | None = typer.Option(None, "--limit", help="a limit order at this price (default: market)"),
    price: float | None = typer.Option(None, "--price", help="reference price (slippage is measured to it)"),
    venues: str = typer.Option(
        "", help="comma-separated venues (default: every enabled venue of the symbol)"
    ),
    reduce_only: bool = typer.Option(False, help="only reduce positions (passes a kill switch)"),
    wait: float = typer.Option(15.0, help="seconds to wait for the final execution; 0: do not wait"),
    show_cli: bool = typer.Option(False, "--print", help="print the redis-cli command instead of sending"),
) -> None:
    """Send one signal to the router (pre-trade risk applies, the bridge's filters do not) and print its
    final execution. Exit 0 when it filled (fully or partly), 1 when it did not or nothing came back."""
    from nexus_ops import signals

    if side.lower() not in ("buy", "sell"):
        raise typer.BadParameter("buy or sell", param_hint="SIDE")
    try:
        signal = validated(
            Signal(
                symbol=symbol.upper(),
                side=Side(side.lower()),
                quantity=quantity,
                confidence=confidence,
                order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
                limit_price=limit,
                reference_price=price,
                venues=tuple(v.strip() for v in venues.split(",") if v.strip()),
                reduce_only=reduce_only,
                strategy="nexusctl",
            )
        )
    except InvalidMessage as exc:  # an operator's input: checked like any edge
        cu.console.print(f"[red]not a valid signal: {exc.field}: {exc.reason}[/]")
        raise typer.Exit(2) from None
    if show_cli:
        print(signals.redis_cli(Names(cu.namespace()), signal, cu.shown_url()))
        raise typer.Exit(0)
    client, names = cu.client(), Names(cu.namespace())
    last: Any = client.xrevrange(names.executions, count=1)
    sid = signals.publish(client, names, signal)
    cu.console.print(f"signal {sid}: {signal.side.value} {quantity:g} {signal.symbol}")
    if wait <= 0:
        return
    finals = signals.wait_finals(client, names, {sid}, timeout_s=wait, since=last[0][0] if last else "0-0")
    if sid not in finals:
        cu.console.print(f"[red]no final execution within {wait:g} s[/] (nexusctl tail executions -f)")
        raise typer.Exit(1)
    ex = finals[sid][0]
    signals.show(cu.console, ex)
    raise typer.Exit(0 if ex.filled_quantity > 0 else 1)
