"""`nexusctl up`'s checks before anything starts, and its report once every service has answered.

Before: the environment is one of venues.yaml, and the settings every service shares (MeshSettings:
NX_LOG_LEVEL, NX_MAX_DELIVERIES, ...) are valid as the operator set them, so a bad value stops `up`
with one line naming it instead of failing every service the same way. After: one line per service,
`up` or why not (the first error line of its log); the exit code says what kind of failure it was.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from nexus_mesh.settings import MeshSettings, load_settings
from nexus_mesh.venues import load_venues_file, venues_path
from nexus_ops.supervisor import EXIT_CONFIG, PER_SERVICE, Outcome, Supervisor, passed_through
from nexus_protocol.errors import ConfigError

EXIT_FAILED = 1


def check_before_start(sup: Supervisor) -> list[str]:
    """Raise ConfigError naming the first bad setting; else notes for the operator."""
    environments = load_venues_file(sup.config_dir).environments
    if sup.environment not in environments:
        raise ConfigError(
            f"--env / NX_ENVIRONMENT={sup.environment!r}: not in {venues_path(sup.config_dir)} "
            f"(environments: {', '.join(environments)})"
        )
    shared = {k.removeprefix("NX_").lower(): v for k, v in passed_through(sup.operator_env).items()}
    fields = MeshSettings.model_fields
    load_settings(MeshSettings, **{k: v for k, v in shared.items() if k in fields})
    notes = []
    passed = sorted(passed_through(sup.operator_env))
    if passed:
        notes.append(f"from your environment, to every service: {', '.join(passed)}")
    ignored = sorted(k for k in sup.operator_env if k in PER_SERVICE)
    if ignored:
        notes.append(f"not passed (set per service by the compose files): {', '.join(ignored)}")
    return notes


def report(outcomes: Sequence[Outcome], console: Console) -> int:
    """One line per service; 0 when all are up, 2 when one stopped on its configuration, else 1."""
    for o in outcomes:
        mark = "[green]up[/]" if o.ok else f"[red]failed[/]: {escape(o.problem)}"
        console.print(f"{o.name:<20} {o.module:<32} {mark}", highlight=False, soft_wrap=True)
    failed = [o for o in outcomes if not o.ok]
    if not failed:
        return 0
    console.print(
        f"[red]{len(failed)} of {len(outcomes)} services failed[/]: {', '.join(o.name for o in failed)}"
    )
    return EXIT_CONFIG if any(o.exit_code == EXIT_CONFIG for o in failed) else EXIT_FAILED


def report_links(linked: dict[str, bool], console: Console) -> None:
    """One line per venue whose adapter runs: its platform link up, or not yet (not a failure: the
    adapter keeps trying, and a real platform may simply not be running)."""
    for venue, up in linked.items():
        mark = "[green]linked[/]" if up else "[yellow]link down[/] (its adapter keeps trying)"
        console.print(f"{'venue ' + venue:<20} {'platform link':<32} {mark}", highlight=False)
