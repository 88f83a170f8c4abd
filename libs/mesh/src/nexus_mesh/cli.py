"""nexusctl: the operator's command line."""

from __future__ import annotations

import os
from pathlib import Path

import redis
import typer
from rich.console import Console

from nexus_mesh import demo as demo_mod
from nexus_mesh.killswitch import KillSwitch
from nexus_mesh.supervisor import Supervisor, stop_detached
from nexus_protocol import Names, decode

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Operate the NEXUS mesh.")
console = Console()


def _root() -> Path:
    here = Path.cwd()
    for d in (here, *here.parents):
        if (d / "docker-compose.yml").exists():
            return d
    raise typer.BadParameter("no docker-compose.yml here or above: run nexusctl from the project folder")


def _namespace() -> str:
    return os.environ.get("NX_NAMESPACE", "nx")


def _data_dir() -> Path:
    return Path(os.environ.get("NX_DATA_DIR", "var"))


def _client() -> redis.Redis:
    url = os.environ.get("NX_REDIS_URL")
    if not url:
        state = _data_dir() / f"nexusctl-{_namespace()}.json"
        if state.exists():
            import json

            url = json.loads(state.read_text())["redis_url"]
    if not url:
        raise typer.BadParameter("no NX_REDIS_URL and no mesh started by `nexusctl up` here")
    return redis.Redis.from_url(url)


@app.callback()
def _main() -> None:
    """Operate the NEXUS mesh."""


@app.command()
def demo(signals: int = typer.Option(4, help="how many signals to send"),
         environment: str = typer.Option("dev", "--env", help="venues.yaml environment")) -> None:
    """Run the whole mesh on an embedded Redis with simulated venues: signals in, executions out."""
    raise typer.Exit(demo_mod.run(_root(), signals=signals, environment=environment))


@app.command()
def up(environment: str = typer.Option(os.environ.get("NX_ENVIRONMENT", "dev"), "--env"),
       foreground: bool = typer.Option(False, help="stay attached; Ctrl-C stops everything")) -> None:
    """Start every service docker-compose.yml defines (plus deploy/compose.ENV.yml) as local processes."""
    sup = Supervisor(root=_root(), environment=environment, data_dir=_data_dir().resolve(), namespace=_namespace(),
                     redis_url=os.environ.get("NX_REDIS_URL"), detached=not foreground)
    if sup.state_file.exists():
        raise typer.BadParameter(f"a mesh is already up for namespace {_namespace()} ({sup.state_file}); run `nexusctl down`")
    services = sup.start()
    failed = sup.wait_ready()
    for s in services:
        mark = "[red]not ready[/]" if s.name in failed else "[green]up[/]"
        console.print(f"{s.name:<20} {s.module:<32} {mark}")
    console.print(f"redis {sup.redis_url}  logs {sup.data_dir / 'logs'}")
    if failed:
        sup.stop()
        raise typer.Exit(1)
    if foreground:
        try:
            while all(p.poll() is None for p in sup.procs.values()):
                import time

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
def tail(stream: str = typer.Argument(..., help="logical name: signals, orders:routed, fills, executions, events, dlq, md:NQ..."),
         count: int = typer.Option(20, "-n"), follow: bool = typer.Option(False, "-f")) -> None:
    """Print a stream's entries, decoded."""
    client, names = _client(), Names(_namespace())
    key = names.stream(stream)
    for entry_id, fields in reversed(client.xrevrange(key, count=count)):
        _print_entry(entry_id, fields)
    cursor = "$"
    while follow:
        for _s, entries in client.xread({key: cursor}, block=1000) or []:
            for entry_id, fields in entries:
                cursor = entry_id
                _print_entry(entry_id, fields)


def _print_entry(entry_id: bytes, fields: dict[bytes, bytes]) -> None:
    try:
        env = decode(fields)
        console.print(f"[dim]{entry_id.decode()}[/] [bold]{env.type}[/] {env.id} {env.body.model_dump_json()}")
    except Exception as exc:
        console.print(f"[dim]{entry_id.decode()}[/] [red]undecodable: {exc}[/]")


@app.command()
def killswitch(state: str = typer.Argument(..., help="on or off"), reason: str = typer.Option("operator"),
               flatten: bool = typer.Option(False, help="also close positions (adapters configured to flatten)")) -> None:
    """Switch the kill switch: nothing new is routed; adapters cancel working orders. Recorded on events."""
    if state not in ("on", "off"):
        raise typer.BadParameter("on or off")
    ks = KillSwitch(_client(), Names(_namespace())).set(state == "on", reason=reason, by="nexusctl", flatten=flatten)
    console.print(f"kill switch {state} (activation {ks.activation})")


def main() -> None:
    app()
