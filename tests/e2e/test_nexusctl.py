"""nexusctl driven as an operator would: `.venv/bin/nexusctl ...` from the repo root, with NX_DATA_DIR
and NX_NAMESPACE of the test's own. One mesh (`nexusctl up --env sim`: dev's venues, each played by the
generic simulated venue, whose prices the test sets) serves the module; signals go in as NEXUS would
send them; every command is checked on its output and exit code. The dev environment itself (real
adapters against their platform simulators) is tests/e2e/test_scenarios.py's."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
import uuid
import xml.dom.minidom
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import redis

from nexus_mesh.adapter.flatten import FLATTEN_CODE
from nexus_mesh.embedded import free_port
from nexus_mesh.publish import Output, Publisher
from nexus_ops.compose import free_loopback_address
from nexus_protocol import Envelope, Execution, Names, Side, Signal, decode
from nexus_protocol.ids import new_signal_id, parse_client_order_id
from nexus_testing import REPO_ROOT, wait_for

NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")
VENUES_NQ = ("nt8", "sierra", "quantower", "mt5-global", "bookmap")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


class Ctl:
    def __init__(self, data_dir: Path, namespace: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
        self.ingress_port = free_port()
        self.address = free_loopback_address()  # the mesh's own: its fixed ports never collide
        self.env.update(
            NX_DATA_DIR=str(data_dir),
            NX_NAMESPACE=namespace,
            NX_INGRESS_PORT=str(self.ingress_port),
            COLUMNS="200",
        )
        self.data_dir = data_dir
        self.names = Names(namespace)
        self.client: redis.Redis | None = None

    def __call__(
        self, *args: str, timeout: float = 60.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [NEXUSCTL, *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert out.returncode == 0, (
                f"nexusctl {' '.join(args)} -> {out.returncode}\n{out.stdout}\n{out.stderr}"
            )
        return out

    def connect(self) -> redis.Redis:
        state = json.loads((self.data_dir / f"nexusctl-{self.names.namespace}.json").read_text())
        self.client = redis.Redis.from_url(state["redis_url"])
        return self.client

    def signal(self, symbol: str, side: str, qty: float, ref: float | None = None) -> str:
        assert self.client is not None
        sid = new_signal_id()
        body = Signal(
            signal_id=sid, symbol=symbol, side=Side(side), quantity=qty, reference_price=ref, strategy="e2e"
        )
        Publisher(self.client, dedupe_ttl_ms=86_400_000).publish(
            [Output(self.names.signals, Envelope.new(body, id=sid))]
        )
        return sid

    def final(self, sid: str, timeout_s: float = 30.0) -> Execution:
        assert self.client is not None

        def found() -> Execution | None:
            for _id, f in self.client.xrange(self.names.executions) or []:  # type: ignore[union-attr]
                ex = decode(f).body
                if isinstance(ex, Execution) and ex.signal_id == sid and ex.final:
                    return ex
            return None

        return wait_for(found, timeout_s=timeout_s, interval_s=0.1, what=f"final execution of {sid}")  # type: ignore[no-any-return]

    def set_price(self, root: str, price: float, venues: tuple[str, ...] = VENUES_NQ) -> None:
        assert self.client is not None
        for v in venues:
            self.client.hset(self.names.control("sim", v, "prices"), root, price)


@pytest.fixture(scope="module")
def ctl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctl]:
    c = Ctl(tmp_path_factory.mktemp("nexusctl"), f"t{uuid.uuid4().hex[:8]}")
    up = c("up", "--env", "sim", "--address", c.address, timeout=180)
    assert "venue-mt5-brazil" in up.stdout and "failed" not in up.stdout, up.stdout
    c.connect()
    wait_for(lambda: c.client.hlen(c.names.contracts) > 0, timeout_s=30, what="active contracts")  # type: ignore[union-attr]
    c.set_price("NQ", 21000.0)
    wait_for(
        lambda: c.client.hget(c.names.state("md", "last"), "NQ") == b"21000.0",  # type: ignore[union-attr]
        timeout_s=20,
        what="NQ at 21000 on every venue",
    )
    yield c
    if (c.data_dir / f"nexusctl-{c.names.namespace}.json").exists():
        c("down", timeout=60, check=False)


def test_status_is_healthy_as_a_table_and_as_json(ctl: Ctl) -> None:
    out = ctl("status")
    assert "HEALTHY" in out.stdout and "UNHEALTHY" not in out.stdout
    for name in (
        "router",
        "normalizer",
        "fx",
        "rollover",
        "fills",
        "adapter-nt8",
        "mt5-brazil",
        "consumer groups",
    ):
        assert name in out.stdout, name
    data = json.loads(ctl("status", "--json").stdout)
    assert data["healthy"] is True and data["problems"] == []
    assert {s["service"] for s in data["services"]} >= {"router", "normalizer", "fx", "rollover", "fills"}
    assert {v["venue"] for v in data["venues"] if v["connected"]} == {*VENUES_NQ, "mt5-brazil"}
    groups = {(g["stream"].split(":", 1)[1], g["group"]) for g in data["groups"]}
    assert (
        ("{signals}", "router") in groups
        and ("{fills}", "fills") in groups
        and ("{orders:nt8}", "adapter-nt8") in groups
    )
    assert all(g["lag"] == 0 for g in data["groups"] if "{md:" not in g["stream"])
    assert data["dead_letters"] == 0


def test_the_ingress_runs_with_a_generated_token_and_takes_an_alert(ctl: Ctl) -> None:
    source, token = (ctl.data_dir / "ingress-tokens").read_text().strip().split("=", 1)
    assert source == "local"
    url = f"http://{ctl.address}:{ctl.ingress_port}"
    alert = {"ticker": "NQ1!", "action": "buy", "contracts": 1, "confidence": 0.9, "idempotency_key": "up-1"}
    sent = httpx.post(f"{url}/webhooks/tradingview", json=alert, headers={"Authorization": f"Bearer {token}"})
    assert sent.status_code == 202, sent.text
    ex = ctl.final(sent.json()["signal_id"])
    assert ex.status.value == "filled" and {leg.venue for leg in ex.legs} == set(VENUES_NQ), ex
    assert ctl.final(ctl.signal("NQ", "sell", 1)).status.value == "filled"  # flat again for the next tests


def test_status_fails_when_what_the_environment_needs_is_not_running(ctl: Ctl) -> None:
    out = ctl("status", "--env", "single", check=False)  # the `single` environment wants venue `sim`
    assert out.returncode == 1, out.stdout
    assert "UNHEALTHY" in out.stdout and "venue sim: no adapter heartbeat" in out.stdout


def test_signals_positions_and_unrealized_pnl(ctl: Ctl) -> None:
    sids = [ctl.signal("NQ", "buy", 1, ref=21000.0), ctl.signal("NQ", "buy", 1, ref=21000.0)]
    for sid in sids:
        ex = ctl.final(sid)
        assert ex.status.value == "filled" and {leg.venue for leg in ex.legs} == set(VENUES_NQ), ex
    ctl.set_price("NQ", 21010.0)  # +10 points on 2 NQ of exposure: USD 400 at every venue

    def valued() -> list[dict[str, Any]] | None:
        rows = json.loads(ctl("positions", "--json").stdout)
        nq = [r for r in rows if r["symbol"] == "NQ"]
        return nq if len(nq) == 5 and all(r["last_price"] == 21010.0 for r in nq) else None

    rows = wait_for(valued, timeout_s=20, interval_s=0.5, what="positions at the new price")
    for r in rows:
        assert (
            r["universal_quantity"] == 2.0 and r["avg_price"] == 21000.0 and r["price_source"] == "venue"
        ), r
        assert r["unrealized_usd"] == pytest.approx(400.0), r
    table = ctl("positions").stdout
    assert "NAS100" in table and "+$400.00" in table and "+$2,000.00" in table  # the total


def test_tail_decodes_entries(ctl: Ctl) -> None:
    out = ctl("tail", "executions", "-n", "3")  # piped: one JSON object per line
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["type"] for r in rows] == ["execution"] * 3 and rows[-1]["stream"] == ctl.names.executions
    assert ctl("tail", ctl.names.executions, "-n", "3").stdout == out.stdout  # the key as redis-cli shows it


def test_export_writes_csv_and_parquet_with_slippage_per_venue(ctl: Ctl, tmp_path: Path) -> None:
    out = ctl("export", "--from", "-1h", "-o", str(tmp_path / "x"))
    for table in ("orders", "fills", "executions", "legs", "slippage"):
        assert (tmp_path / "x" / f"{table}.csv").exists() and (tmp_path / "x" / f"{table}.parquet").exists()
        assert table in out.stdout
    with (tmp_path / "x" / "executions.csv").open() as f:
        execs = list(csv.DictReader(f))
    assert len(execs) >= 2 and all(r["status"] == "filled" and r["final"] == "True" for r in execs)
    slip = pq.read_table(tmp_path / "x" / "slippage.parquet").to_pylist()
    by_venue = {r["venue"]: r for r in slip}
    assert set(VENUES_NQ) <= set(by_venue)
    assert all(by_venue[v]["fill_rate"] == 1.0 and by_venue[v]["legs"] >= 2 for v in VENUES_NQ)
    legs = pq.read_table(tmp_path / "x" / "legs.parquet").to_pylist()
    assert all(r["slippage_points"] is not None for r in legs if r["symbol"] == "NQ"), legs


def test_report_is_html_with_charts(ctl: Ctl, tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    out = ctl("report", "--from", "-1h", "-o", str(path))
    assert "final executions" in out.stdout
    html = path.read_text()
    for section in (
        "Latency per stage",
        "Slippage per venue",
        "Fill rate",
        "P&amp;L",
        "venue order (normalizer)",
    ):
        assert section in html, section
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) >= 5
    for s in svgs:
        xml.dom.minidom.parseString(s)  # well-formed


def test_dashboard_once_prints_every_panel(ctl: Ctl) -> None:
    out = ctl("dashboard", "--once").stdout
    for panel in (
        "NEXUS MESH TRADING DASHBOARD",
        "Status: ● ACTIVE",
        "Gateway: ● CONNECTED",
        "Platforms: 6/6 ONLINE",
        "PERFORMANCE",
        "Latency (avg)",
        "Latency (p99)",
        "Throughput",
        "Fill Rate: 100.0%",
        "Active Orders",
        "TRADING (Today)",
        "ACTIVE POSITIONS",
        "NQ nt8: +2 @ 21,000.00",
        "PLATFORMS",
        "Last Update",
    ):
        assert panel in out, (panel, out)


def _dashboard_in_pty(ctl: Ctl, key: bytes) -> tuple[str, int, float]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: nexusctl on the pty, as in a terminal
        os.chdir(REPO_ROOT)
        os.execve(NEXUSCTL, [NEXUSCTL, "dashboard", "--interval", "0.5"], ctl.env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 110, 0, 0))
    seen, deadline = b"", time.monotonic() + 60
    try:
        while b"PLATFORMS" not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                seen += os.read(fd, 65536)
        time.sleep(1.2)  # a refresh or two
        while select.select([fd], [], [], 0.1)[0]:
            seen += os.read(fd, 65536)
        os.write(fd, key)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 15:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return (
                    ANSI.sub("", seen.decode(errors="replace")),
                    os.waitstatus_to_exitcode(status),
                    time.monotonic() - t0,
                )
            try:
                if select.select([fd], [], [], 0.1)[0]:
                    seen += os.read(fd, 65536)
            except OSError:
                pass
        raise AssertionError(
            "the dashboard did not exit:\n" + ANSI.sub("", seen.decode(errors="replace"))[-3000:]
        )
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)


@pytest.mark.parametrize("key", [b"q", b"\x03"], ids=["q", "ctrl-c"])
def test_dashboard_live_in_a_terminal_draws_and_quits(ctl: Ctl, key: bytes) -> None:
    screen, code, quit_s = _dashboard_in_pty(ctl, key)
    for panel in (
        "NEXUS MESH TRADING DASHBOARD",
        "PERFORMANCE",
        "TRADING (Today)",
        "ACTIVE POSITIONS",
        "PLATFORMS",
    ):
        assert panel in screen, panel
    assert code == 0 and quit_s < 5


def test_send_routes_a_signal_and_prints_its_final_execution(ctl: Ctl) -> None:
    out = ctl("send", "ES", "sell", "1", "--price", "6000", "--venues", "sierra,nt8", timeout=90)
    text = ANSI.sub("", out.stdout)
    assert "sell 1 ES -> filled, 2 filled over 2 venues" in text, text  # a leg per venue
    assert re.search(r"sierra +ES[HMUZ]\d\d +1 +@", text) and re.search(r"nt8 +ES \d\d-\d\d +1 +@", text), (
        text
    )
    limit = ctl("send", "NQ", "buy", "1", "--limit", "21010", "--venues", "nt8", timeout=90)
    assert "buy 1 NQ -> filled, 1 filled over 1 venues" in ANSI.sub("", limit.stdout), limit.stdout
    bad = ctl("send", "ES", "hold", "1", check=False)
    assert bad.returncode == 2 and "buy or sell" in bad.stderr + bad.stdout
    zero = ctl("send", "ES", "buy", "0", check=False)
    assert zero.returncode == 2 and "quantity" in zero.stdout


@pytest.mark.tool("redis-cli", apt="redis-tools")
def test_a_signal_sent_with_redis_cli_alone_gets_its_final_execution(ctl: Ctl) -> None:
    command = ctl("send", "ES", "buy", "1", "--venues", "sierra", "--print").stdout.strip()
    sid = re.search(r" id (\S+) ", command)
    assert sid and command.startswith("printf '"), command
    subprocess.run(["sh", "-c", command], check=True, capture_output=True, timeout=30)
    final = ctl.final(sid[1], timeout_s=60)
    assert final.status.value == "filled" and [leg.venue for leg in final.legs] == ["sierra"]


def test_killswitch_refuses_new_signals_and_shows_in_status(ctl: Ctl) -> None:
    assert "kill switch on" in ctl("killswitch", "on", "--reason", "e2e").stdout
    try:
        ex = ctl.final(ctl.signal("NQ", "buy", 1, ref=21010.0))
        assert ex.status.value == "rejected" and "kill switch is on: e2e" in (ex.reason or ""), ex
        st = json.loads(ctl("status", "--json").stdout)
        assert st["killswitch"]["on"] is True and any("kill switch ON" in w for w in st["warnings"])
        assert ctl("status", "--strict", check=False).returncode == 1
    finally:
        ctl("killswitch", "off")
    assert json.loads(ctl("status", "--json").stdout)["killswitch"]["on"] is False


def test_killswitch_flatten_closes_every_venues_positions_with_final_executions(ctl: Ctl) -> None:
    ctl.final(ctl.signal("NQ", "buy", 1, ref=21010.0))  # every NQ venue holds something
    assert "kill switch on" in ctl("killswitch", "on", "--flatten", "--reason", "e2e flatten").stdout
    try:

        def flat() -> bool:
            rows = json.loads(ctl("positions", "--json").stdout)
            return all(abs(r["universal_quantity"]) < 1e-9 for r in rows)

        wait_for(flat, timeout_s=30, interval_s=0.5, what="every position closed")
        assert ctl.client is not None
        closing = {
            leg.venue: ex
            for _id, f in ctl.client.xrange(ctl.names.executions)
            if isinstance(ex := decode(f).body, Execution) and ex.final
            for leg in ex.legs
            if parse_client_order_id(leg.client_order_id)[1] == FLATTEN_CODE
        }
        assert set(closing) == set(VENUES_NQ), closing  # one closing leg per venue, each a final execution
        assert all(ex.status.value == "filled" and ex.side is Side.SELL for ex in closing.values()), closing
    finally:
        ctl("killswitch", "off")


@pytest.mark.slow
def test_replay_reruns_a_window_in_a_sandbox(ctl: Ctl) -> None:
    for sid in (ctl.signal("NQ", "sell", 1, ref=21010.0), ctl.signal("NQ", "buy", 1, ref=21010.0)):
        ctl.final(sid)
    out = ctl("replay", "--from", "-1h", "--namespace", "sbx-e2e", "--rate", "20", timeout=300)
    counts = re.search(r"(\d+) signals replayed, (\d+) final, 0 not final", out.stdout)
    assert counts and counts[1] == counts[2] and int(counts[1]) >= 2, out.stdout
    assert "filled" in out.stdout and "NOT FINAL" not in out.stdout
    report = ctl("--namespace", "sbx-e2e", "report", "--from", "-1h", "-o", str(ctl.data_dir / "sbx.html"))
    assert f"{counts[1]} signals, {counts[1]} final executions" in report.stdout
    again = ctl("replay", "--from", "-1h", "--namespace", "sbx-e2e", check=False)
    assert again.returncode == 2 and "not empty" in again.stdout


def test_down_stops_everything(ctl: Ctl) -> None:
    out = ctl("down", timeout=60)
    assert "stopped router" in out.stdout and "stopped venue-nt8" in out.stdout
    after = ctl("status", check=False)
    assert after.returncode != 0
