"""nexusctl: the operator's command line."""

from __future__ import annotations

import typer

from nexus_mesh import demo as demo_mod

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Operate the NEXUS mesh.")


@app.callback()
def _root() -> None:
    """Operate the NEXUS mesh."""


@app.command()
def demo(signals: int = typer.Option(3, help="how many signals to send")) -> None:
    """Run the whole mesh on an embedded Redis with simulated venues: signals in, executions out."""
    raise typer.Exit(demo_mod.run(signals=signals))


def main() -> None:
    app()
