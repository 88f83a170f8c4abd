"""nexusctl: the operator's command line (docs/operations.md is its manual).

The mesh it talks to: NX_REDIS_URL if set, else the Redis of a mesh `nexusctl up` started here
(its state file under NX_DATA_DIR). The namespace: `--namespace`, else NX_NAMESPACE, else `nx`.
Exit codes: 0 fine, 1 unhealthy or failed, 2 usage or configuration error.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import redis
import typer
from rich.markup import escape

from nexus_mesh.connection import redacted
from nexus_mesh.killswitch import KillSwitch
from nexus_ops import acl as acl_mod
from nexus_ops import cliutil as cu
from nexus_ops import demo as demo_mod
from nexus_ops import status as status_mod
from nexus_ops.cli_archive import archive_app, backup, eod, restore
from nexus_ops.cli_deploy import COMPOSE_SETTINGS, acl_app, compose, images_app
from nexus_ops.cli_streams import send, tail
from nexus_ops.compose import check_loopback
from nexus_ops.records import History, Window, WindowRecord
from nexus_ops.supervisor import Supervisor, stop_detached
from nexus_protocol import Names
from nexus_protocol.errors import ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Operate the NEXUS mesh.")
app.add_typer(acl_app, name="acl")
app.add_typer(images_app, name="images")
app.add_typer(archive_app, name="archive")
for _command in (tail, send, backup, restore, eod):
    app.command()(_command)
app.command(context_settings=COMPOSE_SETTINGS)(compose)
console = cu.console

FROM = typer.Option(
    None,
    "--from",
    help="start: ISO time (UTC if naive), a date, today, yesterday, or -2h / -1d (default -1d)",
)
TO = typer.Option(None, "--to", help="end: ISO time, a date (its whole day), or now (default)")
EXPORT_OUT = typer.Option(Path("export"), "--out", "-o", help="folder for the files")
UP_SERVICES = typer.Option(None, "--service", "-s", help="start only this one (repeatable)")
REPORT_OUT = typer.Option(Path("report.html"), "--out", "-o", help="the HTML file")
STREAMS_ONLY = typer.Option(False, "--streams-only", help="ignore the archive; read the streams alone")
WITHOUT = typer.Option([], help="leave this compose service out, e.g. a simulator (repeatable)")
SERVICES = typer.Argument(..., help="compose service names, e.g. sim-sierra")


@app.callback()
def _main(
    namespace: str = typer.Option(None, "--namespace", "-N", help="namespace (default NX_NAMESPACE or nx)"),
) -> None:
    """Operate the NEXUS mesh."""
    cu.opts["namespace"] = namespace


@app.command()
def demo(
    signals: int = typer.Option(6, help="how many signals to send (rounds of three)"),
    environment: str = typer.Option("dev", "--env", help="venues.yaml environment"),
) -> None:
    """The dev mesh (real adapters, simulated platforms) on an embedded Redis: signals in, executions out."""
    archive = cu.archive_url(must_exist=False)
    raise typer.Exit(demo_mod.run(cu.root(), signals=signals, environment=environment, archive=archive))


@app.command()
def up(
    environment: str = typer.Option(os.environ.get("NX_ENVIRONMENT", "dev"), "--env"),
    foreground: bool = typer.Option(False, help="stay attached; Ctrl-C stops everything"),
    service: list[str] = UP_SERVICES,
    timeout: float = typer.Option(90.0, help="seconds to wait for every service's first heartbeat"),
    address: str = typer.Option("127.0.0.1", help="the loopback address every service listens on and dials"),
    without: list[str] = WITHOUT,
) -> None:
    """Start every service docker-compose.yml defines (plus deploy/compose.ENV.yml) as local processes.

    Your NX_* variables reach every service (docs/operations.md, "Starting and stopping", says which
    win). Waits for every service; names each that failed with the first error line of its log; then
    for every adapter's link to its platform (a link still down is reported, not fatal)."""
    from nexus_ops.up import check_before_start, report, report_links

    sup = Supervisor(
        root=cu.root(),
        environment=environment,
        data_dir=cu.data_dir().resolve(),
        namespace=cu.namespace(),
        redis_url=os.environ.get("NX_REDIS_URL"),
        detached=not foreground,
        address=address,
        without=frozenset(without),
    )
    if sup.state_file.exists():
        raise typer.BadParameter(
            f"a mesh is already up for namespace {cu.namespace()} ({sup.state_file}); run `nexusctl down`"
        )
    try:
        check_loopback(address)
        for note in check_before_start(sup):
            console.print(note, highlight=False)
        sup.start(set(service) if service else None)
    except ConfigError as exc:
        console.print(f"[red]nexusctl up: {escape(str(exc))}[/]", highlight=False)
        raise typer.Exit(2) from None
    outcomes = sup.wait_ready(timeout_s=timeout)
    code = report(outcomes, console)
    if not code:
        report_links(sup.wait_linked(timeout_s=timeout), console)
    console.print(
        f"redis {redacted(sup.redis_url or '')}  address {sup.address}  logs {sup.logs_dir}", highlight=False
    )
    if code:
        sup.stop()
        raise typer.Exit(code)
    if foreground:
        try:
            while not sup.dead():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            sup.stop()


@app.command()
def stop(services: list[str] = SERVICES) -> None:
    """Stop services of the running mesh (SIGTERM), e.g. a platform simulator: its adapter shows the link
    down and the router refuses that venue's legs until `nexusctl start` brings it back."""
    sup = _attached()
    for name in services:
        if name not in sup.pids:
            console.print(f"{name}: not running")
        elif sup.stop_service(name):
            console.print(f"stopped {name}")


@app.command()
def start(services: list[str] = SERVICES) -> None:
    """Start services of the running mesh again, exactly as `nexusctl up` started them."""
    sup = _attached()
    for name in services:
        try:
            svc = sup.start_service(name)
        except ConfigError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
        console.print(f"started {svc.name} (pid {sup.pids[svc.name]})")


def _attached() -> Supervisor:
    state = cu.data_dir() / f"nexusctl-{cu.namespace()}.json"
    if not state.exists():
        console.print(f"nothing is up for namespace {cu.namespace()} (`nexusctl up` first)")
        raise typer.Exit(1)
    return Supervisor.attach(cu.root(), state.resolve())


@app.command()
def down() -> None:
    """Stop what `nexusctl up` started (services get SIGTERM: they finish their batch and exit)."""
    state = cu.data_dir() / f"nexusctl-{cu.namespace()}.json"
    if not state.exists():
        console.print(f"nothing is up for namespace {cu.namespace()}")
        raise typer.Exit(0)
    for name in stop_detached(state):
        console.print(f"stopped {name}")


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    environment: str = typer.Option(None, "--env", help="whose compose files say what should run"),
    strict: bool = typer.Option(False, help="warnings (dead letters, kill switch on) fail too"),
    max_lag: int = typer.Option(1_000, help="entries a group on an order or fill stream may be behind"),
) -> None:
    """Services and heartbeats, venue links, consumer lag and pending, dead letters. Exit 1 if unhealthy."""
    from nexus_ops.views import status_view

    env = cu.environment(environment)
    try:
        st = status_mod.collect(
            cu.client(),
            Names(cu.namespace()),
            cu.expected(env),
            environment=env,
            ttl_ms=cu.ttl_ms(),
            max_lag=max_lag,
        )
    except redis.RedisError as exc:
        if as_json:
            print(json.dumps({"healthy": False, "problems": [f"redis: {exc}"]}))
        else:
            console.print(f"[red]redis unreachable: {exc}[/]")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(st.as_dict(), indent=2))
    else:
        console.print(status_view(st))
    raise typer.Exit(0 if st.healthy and not (strict and st.warnings) else 1)


@app.command()
def positions(
    as_json: bool = typer.Option(False, "--json"),
    flat: bool = typer.Option(False, help="also list flat positions (realized P&L only)"),
) -> None:
    """Open positions per symbol, venue and contract, with unrealized P&L at the last price."""
    from nexus_ops import positions as positions_mod
    from nexus_ops.views import positions_view

    rows = positions_mod.collect(cu.client(), Names(cu.namespace()), cu.config_dir(), include_flat=flat)
    if as_json:
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        console.print(positions_view(rows))


@app.command()
def killswitch(
    state: str = typer.Argument(..., help="on or off"),
    reason: str = typer.Option("operator"),
    flatten: bool = typer.Option(False, help="also close every position: each adapter sends closing orders"),
) -> None:
    """Switch the kill switch: nothing new is routed; adapters cancel working orders. Recorded on events."""
    if state not in ("on", "off"):
        raise typer.BadParameter("on or off")
    ks = KillSwitch(cu.client(), Names(cu.namespace())).set(
        state == "on", reason=reason, by="nexusctl", flatten=flatten
    )
    console.print(f"kill switch {state} (activation {ks.activation})")


@app.command()
def replay(
    start: str = FROM,
    end: str = TO,
    sandbox: str = typer.Option(
        ..., "--namespace", "--sandbox", help="the sandbox namespace (e.g. sbx-0301)"
    ),
    environment: str = typer.Option("sim", "--env", help="an environment whose venues are simulated"),
    rate: float = typer.Option(10.0, help="signals published per second at most"),
    timeout: float = typer.Option(60.0, help="seconds to wait for the last final execution"),
    reset: bool = typer.Option(False, help="delete the sandbox's keys first if it is not empty"),
    streams_only: bool = STREAMS_ONLY,
) -> None:
    """Re-run a window of signals (from the archive, else the streams) through a sandbox gateway with
    simulated venues, and compare."""
    from nexus_ops.replay import Replay
    from nexus_ops.views import replay_view

    try:
        window = Window.parse(start, end)
        rp = Replay(
            cu.history(streams_only=streams_only),
            cu.client(),
            cu.redis_url(),
            cu.root(),
            Names(cu.namespace()),
            Names(sandbox),
            environment=environment,
            data_dir=(cu.data_dir() / "replay" / sandbox).resolve(),
            rate_per_s=rate,
            timeout_s=timeout,
            archive_url=cu.archive_url(must_exist=False),
        )
        with console.status("replaying...") as spin:
            result = rp.run(
                window, reset=reset, on_progress=lambda n, total: spin.update(f"replayed {n}/{total} signals")
            )
    except (ConfigError, ValueError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if not result.items:
        console.print(f"no signals on {Names(cu.namespace()).signals} in {window.describe()}")
        raise typer.Exit(0)
    console.print(replay_view(result))
    raise typer.Exit(1 if result.missing else 0)


def _window_records(start: str, end: str, streams_only: bool) -> tuple[Window, History, WindowRecord]:
    """The window's records, from the archive and the streams (--streams-only: the streams alone)."""
    from nexus_ops import records

    try:
        window = Window.parse(start, end)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    history = cu.history(streams_only=streams_only)
    return window, history, records.load(history, window, venues=acl_mod.all_venues(cu.config_dir()))


@app.command()
def export(
    start: str = FROM,
    end: str = TO,
    out: Path = EXPORT_OUT,
    formats: str = typer.Option("csv,parquet", "--format", help="csv, parquet or both"),
    streams_only: bool = STREAMS_ONLY,
) -> None:
    """Orders, fills, executions, legs and per-venue slippage of a window to CSV and Parquet."""
    from nexus_ops import export as export_mod

    fmts = [f.strip() for f in formats.split(",") if f.strip()]
    if not fmts or set(fmts) - {"csv", "parquet"}:
        raise typer.BadParameter("--format: csv, parquet or csv,parquet")
    _, history, rec = _window_records(start, end, streams_only)
    written = export_mod.export(rec, out, fmts)
    tables = export_mod.tables(rec)
    for name, files in written.items():
        console.print(f"{name:<11} {len(tables[name]):>7} rows  " + "  ".join(str(f) for f in files))
    console.print(f"read from {cu.describe(history)}")


@app.command()
def report(
    start: str = FROM,
    end: str = TO,
    out: Path = REPORT_OUT,
    environment: str = typer.Option(None, "--env", help="whose session day (risk.yaml) the trades belong to"),
    streams_only: bool = STREAMS_ONLY,
) -> None:
    """An HTML report (inline SVG charts): trading metrics (in total, per platform, per symbol),
    latency per stage, slippage per venue, fill rate, P&L."""
    from nexus_ops import report as report_mod
    from nexus_ops.tally import trading_session

    window, history, rec = _window_records(start, end, streams_only)
    session = trading_session(cu.config_dir(), cu.environment(environment))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_mod.build(history, rec, session))
    console.print(
        f"{out}: {len(rec.signals)} signals, {len(rec.finals())} final executions ({window.describe()}); "
        f"read from {cu.describe(history)}"
    )


@app.command()
def dashboard(
    once: bool = typer.Option(False, "--once", help="print one frame and exit"),
    interval: float = typer.Option(1.0, help="seconds between refreshes"),
    environment: str = typer.Option(None, "--env"),
    streams_only: bool = STREAMS_ONLY,
) -> None:
    """The live trading dashboard (q or Ctrl-C quits)."""
    from nexus_ops.dashboard import Dashboard, run

    env = cu.environment(environment)
    dash = Dashboard(
        cu.client(),
        Names(cu.namespace()),
        cu.expected(env),
        env,
        cu.config_dir(),
        ttl_ms=cu.ttl_ms(),
        history=cu.history(streams_only=streams_only),
    )
    raise typer.Exit(run(dash, console, once=once, interval_s=interval))


def main() -> None:
    app()
