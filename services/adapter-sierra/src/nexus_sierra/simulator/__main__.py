"""`python -m nexus_sierra.simulator --port 11099 [--control-port N]`: a DTC server playing Sierra Chart.

Both ports listen on --host (default NX_SIM_HOST or 127.0.0.1). Runs until SIGTERM/SIGINT. Its
orders, fills and positions live as long as the process, whatever the clients do. See `server.py`
for what it simulates and `control.py` for the control port.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

from nexus_sierra.simulator.control import serve_control
from nexus_sierra.simulator.server import DtcSimulator
from nexus_sierra.simulator.venue import SimulatedTradingService


def _prices(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        root, _, price = item.partition("=")
        out[root.strip()] = float(price)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m nexus_sierra.simulator", description=__doc__)
    p.add_argument("--host", default=os.environ.get("NX_SIM_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=11099)
    p.add_argument("--control-port", type=int, default=None, help="JSON-lines control port, on --host too")
    p.add_argument(
        "--accounts", default="Sim1", help="comma-separated trade accounts; the first is the default"
    )
    p.add_argument("--username", default="", help="require this username (and --password) at logon")
    p.add_argument("--password", default="")
    p.add_argument("--config-dir", type=Path, default=Path("deploy/config"), help="folder with symbols.yaml")
    p.add_argument("--price", action="append", default=[], metavar="ROOT=PRICE", help="start price of a root")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--fill-parts", type=int, default=1, help="split each order into this many fills")
    p.add_argument("--cash", type=float, default=100_000.0, help="each account's starting cash")
    p.add_argument("--step-ticks", type=int, default=1, help="random-walk step per market step (0: still)")
    p.add_argument("--md-interval-ms", type=float, default=250.0, help="market step and quote interval")
    p.add_argument("--no-exec-ids", action="store_true", help="send no fill execution ids (older servers)")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


async def _main(args: argparse.Namespace) -> None:
    venue = SimulatedTradingService(
        accounts=tuple(a.strip() for a in args.accounts.split(",") if a.strip()),
        config_dir=args.config_dir,
        prices=_prices(args.price),
        seed=args.seed,
        fill_parts=args.fill_parts,
        step_ticks=args.step_ticks,
        exec_ids=not args.no_exec_ids,
        cash=args.cash,
    )
    sim = DtcSimulator(
        venue, md_interval_s=args.md_interval_ms / 1000, username=args.username, password=args.password
    )
    await sim.start(args.host, args.port)
    control = (
        await serve_control(sim, args.control_port, args.host) if args.control_port is not None else None
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if control is not None:
        control.close()
    await sim.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_main(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
