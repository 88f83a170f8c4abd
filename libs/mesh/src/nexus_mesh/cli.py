"""nexusctl: the operator's command line (docs/operations.md is its manual).

The mesh it talks to: NX_REDIS_URL if set, else the Redis of a mesh `nexusctl up` started here
(its state file under NX_DATA_DIR). The namespace: `--namespace`, else NX_NAMESPACE, else `nx`.
Exit codes: 0 fine, 1 unhealthy or failed, 2 usage or configuration error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
import typer
from rich.console import Console

from nexus_mesh import demo as demo_mod
from nexus_mesh.connection import connect, redacted
from nexus_mesh.killswitch import KillSwitch
from nexus_mesh.ops import acl as acl_mod
from nexus_mesh.ops import status as status_mod
from nexus_mesh.ops.records import Window
from nexus_mesh.supervisor import Supervisor, load_services, stop_detached
from nexus_protocol import Names, decode
from nexus_protocol.errors import ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Operate the NEXUS mesh.")
acl_app = typer.Typer(no_args_is_help=True, help="Redis ACL users: render the live file, check the template.")
app.add_typer(acl_app, name="acl")
# Piped output (scripts, CI logs) is not cut to 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=int(os.environ.get("COLUMNS", "160")))
_opts: dict[str, Any] = {}

FROM = typer.Option(None, "--from", help="start: ISO time (UTC if naive), a date, or -2h / -1d (default -1d)")
TO = typer.Option(None, "--to", help="end: ISO time, a date (its whole day), or now (default)")
EXPORT_OUT = typer.Option(Path("export"), "--out", "-o", help="folder for the files")
REPORT_OUT = typer.Option(Path("report.html"), "--out", "-o", help="the HTML file")
ACL_OUT = typer.Option(None, "--out", help="the ACL file to write (default: print)")
ACL_ENV_FILE = typer.Option(None, "--env-file", help="write the passwords here (0600), for compose")
ACL_PATH = typer.Option(None, help="default deploy/redis/users.acl")


def _root() -> Path:
    here = Path.cwd()
    for d in (here, *here.parents):
        if (d / "docker-compose.yml").exists():
            return d
    raise typer.BadParameter("no docker-compose.yml here or above: run nexusctl from the project folder")


def _namespace() -> str:
    return str(_opts.get("namespace") or os.environ.get("NX_NAMESPACE", "nx"))


def _data_dir() -> Path:
    return Path(os.environ.get("NX_DATA_DIR", "var"))


def _state(namespace: str | None = None) -> dict[str, Any] | None:
    path = _data_dir() / f"nexusctl-{namespace or _namespace()}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _any_state() -> dict[str, Any]:
    """This namespace's mesh, else NX_NAMESPACE's, else the only mesh `up` started here (a sandbox
    namespace lives on the Redis of the mesh it was replayed from)."""
    found = _state() or _state(os.environ.get("NX_NAMESPACE", "nx"))
    if found is None:
        files = sorted(_data_dir().glob("nexusctl-*.json"))
        found = json.loads(files[0].read_text()) if len(files) == 1 else None
    return found or {}


def _redis_url() -> str:
    url = os.environ.get("NX_REDIS_URL") or _any_state().get("redis_url")
    if not url:
        raise typer.BadParameter("no NX_REDIS_URL and no mesh started by `nexusctl up` here")
    return str(url)


def _client() -> redis.Redis:
    return connect(_redis_url(), client_name="nexusctl", retries=2)


def _environment(explicit: str | None = None) -> str:
    return str(explicit or _any_state().get("environment") or os.environ.get("NX_ENVIRONMENT", "dev"))


def _config_dir() -> Path:
    env = os.environ.get("NX_CONFIG_DIR")
    return Path(env) if env else _root() / "deploy" / "config"


def _expected(environment: str) -> status_mod.Expected:
    """Heartbeat service names the compose files define for the environment, and its venues."""
    try:
        services = load_services(_root(), environment)
        venues = acl_mod.all_venues(_config_dir(), environment)
    except (typer.BadParameter, ConfigError, KeyError):
        return status_mod.Expected()
    names = []
    for s in services:
        venue = s.environment.get("NX_VENUE")
        names.append(s.environment.get("NX_SERVICE") or (f"adapter-{venue}" if venue else s.name))
    return status_mod.Expected(tuple(dict.fromkeys(names)), tuple(venues))


def _ttl_ms() -> int:
    return int(os.environ.get("NX_HEARTBEAT_TTL_MS", "10000"))


@app.callback()
def _main(
    namespace: str = typer.Option(None, "--namespace", "-N", help="namespace (default NX_NAMESPACE or nx)"),
) -> None:
    """Operate the NEXUS mesh."""
    _opts["namespace"] = namespace


@app.command()
def demo(
    signals: int = typer.Option(4, help="how many signals to send"),
    environment: str = typer.Option("dev", "--env", help="venues.yaml environment"),
) -> None:
    """Run the whole mesh on an embedded Redis with simulated venues: signals in, executions out."""
    raise typer.Exit(demo_mod.run(_root(), signals=signals, environment=environment))


@app.command()
def up(
    environment: str = typer.Option(os.environ.get("NX_ENVIRONMENT", "dev"), "--env"),
    foreground: bool = typer.Option(False, help="stay attached; Ctrl-C stops everything"),
) -> None:
    """Start every service docker-compose.yml defines (plus deploy/compose.ENV.yml) as local processes."""
    sup = Supervisor(
        root=_root(),
        environment=environment,
        data_dir=_data_dir().resolve(),
        namespace=_namespace(),
        redis_url=os.environ.get("NX_REDIS_URL"),
        detached=not foreground,
    )
    if sup.state_file.exists():
        raise typer.BadParameter(
            f"a mesh is already up for namespace {_namespace()} ({sup.state_file}); run `nexusctl down`"
        )
    services = sup.start()
    failed = sup.wait_ready()
    for s in services:
        mark = "[red]not ready[/]" if s.name in failed else "[green]up[/]"
        console.print(f"{s.name:<20} {s.module:<32} {mark}")
    console.print(f"redis {redacted(sup.redis_url or '')}  logs {sup.data_dir / 'logs'}")
    if failed:
        sup.stop()
        raise typer.Exit(1)
    if foreground:
        try:
            while all(p.poll() is None for p in sup.procs.values()):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            sup.stop()


@app.command()
def down() -> None:
    """Stop what `nexusctl up` started (services get SIGTERM: they finish their batch and exit)."""
    state = _data_dir() / f"nexusctl-{_namespace()}.json"
    if not state.exists():
        console.print(f"nothing is up for namespace {_namespace()}")
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
    from nexus_mesh.ops.views import status_view

    env = _environment(environment)
    try:
        st = status_mod.collect(
            _client(), Names(_namespace()), _expected(env), environment=env, ttl_ms=_ttl_ms(), max_lag=max_lag
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
    from nexus_mesh.ops import positions as positions_mod
    from nexus_mesh.ops.views import positions_view

    rows = positions_mod.collect(_client(), Names(_namespace()), _config_dir(), include_flat=flat)
    if as_json:
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        console.print(positions_view(rows))


@app.command()
def tail(
    stream: str = typer.Argument(
        ..., help="logical name: signals, orders:routed, fills, executions, events, dlq, md:NQ..."
    ),
    count: int = typer.Option(20, "-n"),
    follow: bool = typer.Option(False, "-f"),
) -> None:
    """Print a stream's entries, decoded."""
    client, names = _client(), Names(_namespace())
    key = names.stream(stream)
    rows: Any = client.xrevrange(key, count=count)
    for entry_id, fields in reversed(rows or []):
        _print_entry(entry_id, fields)
    cursor = "$"
    while follow:
        reply: Any = client.xread({key: cursor}, block=1000)
        for _s, entries in reply or []:
            for entry_id, fields in entries:
                cursor = entry_id
                _print_entry(entry_id, fields)


def _print_entry(entry_id: bytes, fields: dict[bytes, bytes]) -> None:
    try:
        env = decode(fields)
        console.print(
            f"[dim]{entry_id.decode()}[/] [bold]{env.type}[/] {env.id} {env.body.model_dump_json()}"
        )
    except Exception as exc:
        console.print(f"[dim]{entry_id.decode()}[/] [red]undecodable: {exc}[/]")


@app.command()
def killswitch(
    state: str = typer.Argument(..., help="on or off"),
    reason: str = typer.Option("operator"),
    flatten: bool = typer.Option(False, help="also close positions (adapters configured to flatten)"),
) -> None:
    """Switch the kill switch: nothing new is routed; adapters cancel working orders. Recorded on events."""
    if state not in ("on", "off"):
        raise typer.BadParameter("on or off")
    ks = KillSwitch(_client(), Names(_namespace())).set(
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
    environment: str = typer.Option("dev", "--env", help="an environment whose venues are simulated"),
    rate: float = typer.Option(10.0, help="signals published per second at most"),
    timeout: float = typer.Option(60.0, help="seconds to wait for the last final execution"),
    reset: bool = typer.Option(False, help="delete the sandbox's keys first if it is not empty"),
) -> None:
    """Re-run a window of signals through a sandbox gateway with simulated venues, and compare."""
    from nexus_mesh.ops.replay import Replay
    from nexus_mesh.ops.views import replay_view

    try:
        window = Window.parse(start, end)
        rp = Replay(
            _client(),
            _redis_url(),
            _root(),
            Names(_namespace()),
            Names(sandbox),
            environment=environment,
            data_dir=(_data_dir() / "replay" / sandbox).resolve(),
            rate_per_s=rate,
            timeout_s=timeout,
        )
        with console.status("replaying...") as spin:
            result = rp.run(
                window, reset=reset, on_progress=lambda n, total: spin.update(f"replayed {n}/{total} signals")
            )
    except (ConfigError, ValueError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if not result.items:
        console.print(f"no signals on {Names(_namespace()).signals} in {window.describe()}")
        raise typer.Exit(0)
    console.print(replay_view(result))
    raise typer.Exit(1 if result.missing else 0)


@app.command()
def export(
    start: str = FROM,
    end: str = TO,
    out: Path = EXPORT_OUT,
    formats: str = typer.Option("csv,parquet", "--format", help="csv, parquet or both"),
) -> None:
    """Orders, fills, executions, legs and per-venue slippage of a window to CSV and Parquet."""
    from nexus_mesh.ops import export as export_mod
    from nexus_mesh.ops import records

    fmts = [f.strip() for f in formats.split(",") if f.strip()]
    if not fmts or set(fmts) - {"csv", "parquet"}:
        raise typer.BadParameter("--format: csv, parquet or csv,parquet")
    try:
        window = Window.parse(start, end)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    rec = records.load(_client(), Names(_namespace()), window, venues=acl_mod.all_venues(_config_dir()))
    written = export_mod.export(rec, out, fmts)
    tables = export_mod.tables(rec)
    for name, files in written.items():
        console.print(f"{name:<11} {len(tables[name]):>7} rows  " + "  ".join(str(f) for f in files))


@app.command()
def report(start: str = FROM, end: str = TO, out: Path = REPORT_OUT) -> None:
    """An HTML report (inline SVG charts): latency per stage, slippage per venue, fill rate, P&L."""
    from nexus_mesh.ops import records
    from nexus_mesh.ops import report as report_mod

    try:
        window = Window.parse(start, end)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    client, names = _client(), Names(_namespace())
    rec = records.load(client, names, window, venues=acl_mod.all_venues(_config_dir()))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_mod.build(client, names, rec))
    console.print(
        f"{out}: {len(rec.signals)} signals, {len(rec.finals())} final executions ({window.describe()})"
    )


@app.command()
def dashboard(
    once: bool = typer.Option(False, "--once", help="print one frame and exit"),
    interval: float = typer.Option(1.0, help="seconds between refreshes"),
    environment: str = typer.Option(None, "--env"),
) -> None:
    """The live trading dashboard (q or Ctrl-C quits)."""
    from nexus_mesh.ops.dashboard import Dashboard, run

    env = _environment(environment)
    dash = Dashboard(_client(), Names(_namespace()), _expected(env), env, _config_dir(), ttl_ms=_ttl_ms())
    raise typer.Exit(run(dash, console, once=once, interval_s=interval))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def compose(
    ctx: typer.Context,
    environment: str = typer.Option(..., "--env", help="dev, staging, prod-stage1 .. prod-stage4"),
    monitoring: bool = typer.Option(False, help="add Prometheus, Alertmanager, Grafana, redis_exporter"),
    show: bool = typer.Option(False, "--print", help="print the command instead of running it"),
) -> None:
    """docker compose with the environment's files in order: nexusctl compose --env staging -- up -d"""
    from nexus_mesh.ops import deploy

    try:
        cmd = deploy.command(
            _root(),
            environment,
            list(ctx.args),
            monitoring=monitoring,
            base=["docker", "compose"] if show else None,
        )
    except ConfigError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    if show:
        print(cmd.shell())
        raise typer.Exit(0)
    raise typer.Exit(subprocess.call(cmd.argv, env={**os.environ, **cmd.env}, cwd=_root()))


@acl_app.command("render")
def acl_render(
    out: Path | None = ACL_OUT,
    env_file: Path | None = ACL_ENV_FILE,
    generate: bool = typer.Option(False, help="make up passwords missing from NX_REDIS_PASSWORD_<USER>"),
    template: bool = typer.Option(False, help="rules only, every user off (the committed file)"),
    environment: str = typer.Option(None, "--env", help="adapter users for this environment's venues only"),
    sandbox_prefix: str = typer.Option(acl_mod.DEFAULT_SANDBOX_PREFIX, help="replay sandboxes start so"),
) -> None:
    """Write the Redis ACL file: one user per service, `#<sha256>` of its password, never the password."""
    ns = _namespace()
    users = acl_mod.mesh_users(Names(ns), acl_mod.all_venues(_config_dir(), environment), sandbox_prefix)
    if template:
        text = acl_mod.render(users)
    else:
        passwords, made = acl_mod.passwords_from_env(users, generate=generate)
        missing = [u.name for u in users if u.name not in passwords]
        if missing:
            console.print(
                f"[yellow]no password for {', '.join(missing)}: those users are off "
                f"(set {acl_mod.env_var(missing[0])}, ... or pass --generate)[/]"
            )
        if made and env_file is None:
            raise typer.BadParameter(
                "--generate needs --env-file: generated passwords must be kept somewhere"
            )
        if out is not None and out.resolve() == (_root() / "deploy" / "redis" / "users.acl").resolve():
            raise typer.BadParameter(
                "deploy/redis/users.acl is the committed template; write the live file "
                "to deploy/secrets/ (ignored by git)"
            )
        text = acl_mod.render(users, passwords)
        if env_file is not None:
            acl_mod.write_secret(env_file, acl_mod.env_file(passwords))
            console.print(f"passwords for {len(passwords)} users in {env_file} ({len(made)} generated now)")
    if out is None:
        print(text, end="")
    else:
        acl_mod.write_secret(out, text)
        console.print(f"{out}: {len(users)} users")


@acl_app.command("check")
def acl_check(path: Path | None = ACL_PATH) -> None:
    """Exit 1 when the committed template differs from what the code renders (key names changed)."""
    path = path or _root() / "deploy" / "redis" / "users.acl"
    users = acl_mod.mesh_users(Names(_namespace()), acl_mod.all_venues(_config_dir()))
    want = acl_mod.render(users)
    if not path.exists() or path.read_text() != want:
        console.print(f"[red]{path} is out of date: nexusctl acl render --template > {path}[/]")
        raise typer.Exit(1)
    console.print(f"{path}: up to date ({len(users)} users)")


@acl_app.command("explain")
def acl_explain(
    environment: str = typer.Option(None, "--env", help="this environment's venues only"),
) -> None:
    """Each ACL user: what it is for, its read-write, read-only and write-only key patterns."""
    from rich.table import Table

    t = Table(show_lines=True)
    for col in ("user", "for", "read + write", "read only", "write only"):
        t.add_column(col)
    for u in acl_mod.mesh_users(Names(_namespace()), acl_mod.all_venues(_config_dir(), environment)):
        t.add_row(u.name, u.why, "\n".join(u.rw), "\n".join(u.read), "\n".join(u.write))
    console.print(t)
    console.print("commands (services): " + " ".join(acl_mod.SERVICE_COMMANDS))


def main() -> None:
    app()
