"""The storm's report: the run, what the nemesis did, and every count the checker made, as JSON and as
the table printed at the end of a run (and pasted into a closing note)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from nexus_testing.storm.checker import ZERO, Checked
from nexus_testing.storm.nemesis import Tally

_VENUE_COLUMNS = (
    ("routed", "routed"),
    ("received", "at platform"),
    ("fills", "filled"),
    ("resent_after_refusal", "resent"),
    ("platform_duplicates", "dup"),
    ("unexpected_platform_orders", "unexp"),
    ("lost_orders", "lost"),
    ("platform_fills_not_in_execution", "fill+"),
    ("execution_fills_not_at_platform", "fill-"),
    ("position_differences", "pos"),
)


def build(
    run: dict[str, Any], tally: Tally, faults: list[dict[str, Any]], checked: Checked
) -> dict[str, Any]:
    fired = Counter(f"{f['link']} {f['action']} {f['at']}" for f in faults if f["outcome"] == "fired")
    outcomes = Counter(str(f["outcome"]) for f in faults)
    return {
        "run": run,
        "ok": checked.ok,
        "failures": checked.failures,
        "nemesis": {
            "kills": dict(sorted(tally.kills.items())),
            "kills_total": sum(tally.kills.values()),
            "redis_restarts": tally.redis_restarts,
            "faults_armed": sum(tally.faults_armed.values()),
            "faults": dict(outcomes),
            "faults_fired": dict(sorted(fired.items())),
        },
        "counts": checked.counts,
        "venues": checked.venues,
        "final_statuses": checked.statuses,
        "time_to_final_s": checked.time_to_final_s,
        "examples": {k: v for k, v in checked.examples.items() if v},
    }


def write(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")


def table(report: dict[str, Any]) -> str:
    """Plain text, fixed width: fits a terminal, a CI log and a markdown code block."""
    run, nem, counts = report["run"], report["nemesis"], report["counts"]
    lines = [
        f"storm: seed {run.get('seed')}, {run.get('seconds', 0):.0f} s of storm, "
        f"{counts.get('signals', 0)} signals at {run.get('rate_per_s', 0):g}/s over "
        f"{', '.join(run.get('symbols', []))}; machine load {run.get('load', '?')}",
        "",
        f"signals  sent {counts.get('signals_sent', 0)}, "
        f"unknown outcome {counts.get('signals_unknown_outcome', 0)}"
        f" ({counts.get('signals_unknown_arrived', 0)} arrived), refused by the client (safe mode) "
        f"{counts.get('signals_refused_by_client', 0)}",
        "finals   " + ", ".join(f"{k} {v}" for k, v in sorted(report["final_statuses"].items())),
        f"kills    {nem['kills_total']}: " + ", ".join(f"{k} {v}" for k, v in nem["kills"].items()),
        f"redis    {nem['redis_restarts']} SIGKILL + restart from the AOF",
        f"faults   {nem['faults_armed']} armed: "
        + ", ".join(f"{k} {v}" for k, v in sorted(nem["faults"].items())),
    ]
    lines += ["         " + ", ".join(f"{k} {v}" for k, v in nem["faults_fired"].items())]
    ttf = report["time_to_final_s"]
    if ttf.get("count"):
        lines.append(
            f"to final p50 {ttf['p50']}s p90 {ttf['p90']}s p99 {ttf['p99']}s max {ttf['max']}s "
            f"(bound {ttf['bound_s']:g}s)"
        )
    lines += ["", _venue_table(report["venues"]), ""]
    width = max(len(k) for k in ZERO)
    for k in ZERO:
        mark = "ok" if not counts.get(k, 0) else "FAIL"
        lines.append(f"{k:<{width}}  {counts.get(k, 0):>6}  {mark}")
    for k, examples in report["examples"].items():
        lines.append(f"  {k}: " + "; ".join(examples[:5]))
    lines.append("")
    lines.append("PASS: zero of everything that must be zero" if report["ok"] else
                 f"FAIL: {', '.join(report['failures'])}")  # fmt: skip
    return "\n".join(lines)


def _venue_table(venues: dict[str, dict[str, int]]) -> str:
    head = f"{'venue':<12}" + "".join(f"{title:>12}" for _, title in _VENUE_COLUMNS)
    rows = [
        f"{venue:<12}" + "".join(f"{counts.get(key, 0):>12}" for key, _ in _VENUE_COLUMNS)
        for venue, counts in sorted(venues.items())
    ]
    return "\n".join([head, *rows])
