"""Prometheus, alert rules, Alertmanager and Grafana: valid (`promtool check config`, `promtool check
rules`), the alerts' own unit tests pass (`promtool test rules`), every metric they use is one the mesh
exports, and each environment's scrape targets are exactly its compose services."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import nexus_gateway.recorder.service  # noqa: F401 - registers the recorder's metrics
import nexus_mesh.metrics  # noqa: F401 - registers the mesh's metrics
from nexus_ops import acl
from nexus_ops.compose import load_services

ROOT = Path(__file__).resolve().parents[3]
PROM = ROOT / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.tool("promtool", apt="prometheus")
ENVIRONMENTS = ("dev", "sim", "staging", "prod-stage1", "prod-stage2", "prod-stage3", "prod-stage4")
SEED_ALERTS = {  # the seed's conditions -> our alerts
    "latency_end_to_end_ms > 100": "HighEndToEndLatency",
    "gateway not connected": "GatewayOffline",
    "platform disconnected": "PlatformOffline",
    "daily_pnl < -limit": "DailyLossLimitReached",
    "fill_rate_percent < 90": "LowFillRate",
    "error_count_1h > 10": "HighErrorRate",
    "memory_usage_gb > 12": "HighMemoryUsage",
}
EXTERNAL = {"up", "process_resident_memory_bytes", "redis_memory_used_bytes"}
SETTINGS = {"NX_SIERRA_HOST": "h", "NX_SIERRA_TRADE_ACCOUNT": "a", "NX_BOOKMAP_TOKEN": "t"}


def promtool(*args: str, cwd: Path = PROM) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMTOOL or "promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def rules() -> list[dict[str, object]]:
    out = []
    for f in sorted((PROM / "rules").glob("*.yml")):
        for group in yaml.safe_load(f.read_text())["groups"]:
            out += group["rules"]
    return out


@needs_promtool
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_prometheus_config_is_valid_with_the_environments_targets(environment: str, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    shutil.copytree(PROM / "rules", etc / "rules")
    shutil.copytree(PROM / "targets" / environment, etc / "targets")
    conf = (PROM / "prometheus.yml").read_text().replace("/etc/prometheus/", f"{etc}/")
    (etc / "prometheus.yml").write_text(conf)
    out = promtool("check", "config", str(etc / "prometheus.yml"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr and "WARNING" not in out.stdout + out.stderr, (
        out.stdout + out.stderr
    )


@needs_promtool
def test_rules_are_valid_and_their_unit_tests_pass() -> None:
    check = promtool("check", "rules", *[str(p) for p in sorted((PROM / "rules").glob("*.yml"))])
    assert check.returncode == 0, check.stdout + check.stderr
    unit = promtool("test", "rules", "tests/alerts_test.yml")
    assert unit.returncode == 0 and "SUCCESS" in unit.stdout, unit.stdout + unit.stderr
    tested = set(re.findall(r"alertname: (\w+)", (PROM / "tests" / "alerts_test.yml").read_text()))
    assert {
        "HighEndToEndLatency",
        "DailyLossLimitReached",
        "PlatformOffline",
        "GatewayOffline",
        "LowFillRate",
        "HighErrorRate",
    } <= tested


def test_every_seed_condition_has_an_alert_with_a_runbook() -> None:
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    runbook = (ROOT / "docs" / "operations.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", runbook, re.M)
    }
    for condition, name in SEED_ALERTS.items():
        assert name in alerts, condition
    for name, rule in alerts.items():
        labels, notes = rule["labels"], rule["annotations"]
        assert labels["severity"] in ("critical", "warning"), name  # type: ignore[index]
        anchor = str(notes["runbook"]).split("#", 1)[1]  # type: ignore[index]
        assert anchor in anchors, (name, anchor)
    assert alerts["HighEndToEndLatency"]["labels"]["severity"] == "critical"  # type: ignore[index]
    assert alerts["LowFillRate"]["labels"]["severity"] == "warning"  # type: ignore[index]


def test_every_metric_used_is_exported_by_the_mesh() -> None:
    exported = {m.name for m in REGISTRY.collect()}
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "nexus-mesh.json").read_text())
    exprs = [str(r["expr"]) for r in rules()] + [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    recorded = {str(r["record"]) for r in rules() if "record" in r}
    for expr in exprs:
        bare = re.sub(r'"[^"]*"', '""', expr)  # label values are not metric names
        for name in re.findall(r"\b((?:nx|nexus|process|redis|up)[a-z0-9_:]*)\b", bare):
            base = re.sub(r"_(total|bucket|sum|count)$", "", name)
            assert name in recorded or base in exported or name in EXTERNAL, (name, expr)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_scrape_targets_are_the_environments_services(environment: str) -> None:
    target_dir = PROM / "targets" / environment
    groups = [g for f in sorted(target_dir.glob("*.yml")) for g in yaml.safe_load(f.read_text())]
    scraped = {g["labels"]["service"]: g for g in groups}
    everything = load_services(ROOT, environment, {**SETTINGS, "PATH": "/usr/bin"})
    compose = [s for s in everything if not s.simulator]  # a platform simulator has no /metrics
    for svc in compose:  # every compose service on this host is scraped on 9100 under its own name
        venue = svc.environment.get("NX_VENUE")
        service = svc.environment.get("NX_SERVICE") or f"adapter-{venue}"
        assert scraped[service]["targets"] == [f"{svc.name}:9100"], (environment, svc.name)
    windows = {g["labels"]["venue"] for g in groups if g["labels"].get("host") == "windows"}
    linux = {s.environment["NX_VENUE"] for s in compose if "NX_VENUE" in s.environment}
    assert windows | linux == set(acl.all_venues(ROOT / "deploy" / "config", environment)), environment
    assert not windows & linux
    assert len(groups) == len(compose) + len(windows)


def test_grafana_is_provisioned_with_the_dashboard() -> None:
    ds = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = ds["datasources"][0]["uid"]
    dash = json.loads((ROOT / "deploy/grafana/dashboards/nexus-mesh.json").read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and dash["uid"] == "nexus-mesh"
    for p in dash["panels"]:
        assert p["datasource"]["uid"] == uid and p["targets"], p["title"]
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
    titles = " ".join(p["title"] for p in dash["panels"])
    for needed in ("latency", "Fill rate", "P&L", "Throughput", "Platform", "lag", "Memory"):
        assert needed in titles, needed
    compose = yaml.safe_load((ROOT / "deploy" / "compose.monitoring.yml").read_text())
    for svc in compose["services"].values():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("./") and "${" not in vol:
                assert (ROOT / src).exists(), vol


def test_alertmanager_routes_and_inhibits_known_alerts() -> None:
    am = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text())
    receivers = {r["name"] for r in am["receivers"]}
    assert am["route"]["receiver"] in receivers
    assert all(r["receiver"] in receivers for r in am["route"]["routes"])
    alerts = {str(r["alert"]) for r in rules() if "alert" in r}
    for rule in am["inhibit_rules"]:
        for matcher in (*rule["source_matchers"], *rule["target_matchers"]):
            names = re.findall(r"\w+", matcher.split("=", 1)[1])
            assert set(names) <= alerts, matcher
