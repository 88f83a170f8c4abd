"""`python -m nexus_mt5.simulator --port 18812 --profile global|brazil`: serve a simulated MT5 terminal.

Prints `READY <host> <port>` on stdout once listening (use `--port 0` for a free port), then serves
until SIGTERM / Ctrl-C. Loopback only (`--host`, default NX_SIM_HOST or 127.0.0.1): a classic rpyc
server executes any code its clients send; `--allow-non-loopback` is for a private network only (a
compose network of simulators). `--series-from today` lists the B3 contracts a broker lists today.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from datetime import date, datetime
from types import FrameType

from nexus_mt5.simulator.clock import OffsetClock
from nexus_mt5.simulator.profiles import PROFILES, profile
from nexus_mt5.simulator.server import SimulatorServer
from nexus_mt5.simulator.terminal import Terminal
from nexus_mt5.simulator.types import pickle_like_real_terminal
from nexus_sim import ManualClock, SimClock


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m nexus_mt5.simulator", description=__doc__)
    p.add_argument("--port", type=int, default=18812, help="TCP port (0 = any free port); default 18812")
    p.add_argument(
        "--host",
        default=os.environ.get("NX_SIM_HOST", "127.0.0.1"),
        help="loopback address to bind (default NX_SIM_HOST or 127.0.0.1)",
    )
    p.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="bind a non-loopback --host too: a private network only, the server runs any code it is sent",
    )
    p.add_argument("--profile", choices=sorted(PROFILES), default="global")
    p.add_argument(
        "--series-from",
        metavar="today|YYYY-MM-DD",
        help="brazil: list the next WIN and WDO contracts from this day (default: WINZ25 and WDOF26)",
    )
    p.add_argument(
        "--clock",
        choices=("wall", "manual"),
        default="wall",
        help="wall: real time (moved forward by control.advance); manual: frozen at --start",
    )
    p.add_argument("--start", help="manual clock start, ISO 8601 with offset (default 2023-11-14T22:13:20Z)")
    p.add_argument("--always-open", action="store_true", help="ignore trading hours: every symbol open")
    p.add_argument(
        "--tick-ms", type=float, default=0.0, help="move the market every N ms (0 = only on control)"
    )
    p.add_argument(
        "--real-pickling",
        action="store_true",
        help="structures refuse to pickle like the real terminal's (rpyc.classic.obtain fails)",
    )
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


def _clock(args: argparse.Namespace) -> SimClock:
    if args.clock == "wall":
        return OffsetClock()
    if args.start:
        return ManualClock(int(datetime.fromisoformat(args.start).timestamp() * 1_000_000_000))
    return ManualClock()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    if args.real_pickling:
        pickle_like_real_terminal()
    series = None
    if args.series_from:
        series = date.today() if args.series_from == "today" else date.fromisoformat(args.series_from)
    terminal = Terminal(profile(args.profile, series_from=series), clock=_clock(args))
    server = SimulatorServer(
        terminal,
        host=args.host,
        port=args.port,
        tick_ms=args.tick_ms,
        allow_non_loopback=args.allow_non_loopback,
    )
    if args.always_open:
        server.control.set_market_open(True)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.close()

    signal.signal(signal.SIGTERM, stop)
    print(f"READY {server.host} {server.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
