"""The archive is the record: a day of signals through the whole mesh (`nexusctl up`, dev) into
PostgreSQL; Redis is then flushed (as if the day were past the streams' retention, or the data files
lost); export, report and eod still answer for the day, and a replay from the archive into a sandbox
namespace restores it: every signal final again, with the same outcome."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from nexus_mesh.publish import Output, Publisher
from nexus_protocol import Envelope, Execution, Names, Side, Signal, decode
from nexus_protocol.ids import new_signal_id
from nexus_testing import REPO_ROOT, wait_for

NEXUSCTL = str(Path(sys.executable).parent / "nexusctl")


def run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NEXUSCTL, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def executions_csv(folder: Path) -> list[dict[str, str]]:
    with (folder / "executions.csv").open() as f:
        rows = list(csv.DictReader(f))
    return sorted(
        (
            {k: r[k] for k in ("signal_id", "status", "filled_quantity", "avg_price", "realized_pnl_usd")}
            for r in rows
        ),
        key=lambda r: r["signal_id"],
    )


@pytest.mark.slow
def test_a_flushed_day_is_exported_reported_and_replayed_from_the_archive(
    pg_database: str, tmp_path: Path
) -> None:
    names = Names(f"t{uuid.uuid4().hex[:8]}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NX_")}
    env.update(
        NX_DATA_DIR=str(tmp_path), NX_NAMESPACE=names.namespace, NX_ARCHIVE_URL=pg_database, COLUMNS="200"
    )
    up = run(env, "up", "--env", "dev", timeout=240)
    assert up.returncode == 0 and "recorder" in up.stdout, up.stdout + up.stderr
    try:
        state = json.loads((tmp_path / f"nexusctl-{names.namespace}.json").read_text())
        client = redis.Redis.from_url(state["redis_url"])
        wait_for(lambda: client.hlen(names.contracts) > 0, timeout_s=60, what="active contracts")
        pub = Publisher(client, dedupe_ttl_ms=86_400_000)
        sids = []
        for side in (Side.BUY, Side.SELL, Side.BUY, Side.SELL):
            sid = new_signal_id()
            sig = Signal(
                signal_id=sid, symbol="NQ", side=side, quantity=1, reference_price=21000.0, strategy="e2e"
            )
            pub.publish([Output(names.signals, Envelope.new(sig, id=sid))])
            sids.append(sid)

        def finals() -> dict[str, Execution]:
            out = {}
            for _i, f in client.xrange(names.executions) or []:
                ex = decode(f).body
                if isinstance(ex, Execution) and ex.final:
                    out.setdefault(ex.signal_id, ex)
            return out if set(sids) <= set(out) else {}

        wait_for(finals, timeout_s=60, interval_s=0.2, what="every final execution")
        before = run(env, "export", "--from", "-1h", "-o", str(tmp_path / "before"), "--format", "csv")
        assert before.returncode == 0 and "archive" in before.stdout, before.stdout + before.stderr
        eod = run(env, "eod", "--backup")  # flat (two round trips), all final, archive caught up, backup
        for _ in range(20):
            if eod.returncode == 0 or "archive caught up" not in eod.stdout.split("failed:")[-1]:
                break
            eod = run(env, "eod", "--backup")
        assert eod.returncode == 0, eod.stdout + eod.stderr

        client.flushall()  # the day is gone from Redis
        after = run(env, "export", "--from", "-1h", "-o", str(tmp_path / "after"), "--format", "csv")
        assert after.returncode == 0, after.stdout + after.stderr
        assert executions_csv(tmp_path / "after") == executions_csv(tmp_path / "before")
        assert len(executions_csv(tmp_path / "after")) == 4
        report = run(env, "report", "--from", "-1h", "-o", str(tmp_path / "r.html"))
        assert report.returncode == 0 and "4 signals, 4 final executions" in report.stdout, report.stdout
        html = (tmp_path / "r.html").read_text()
        assert "Per platform" in html and "Per symbol" in html and "<td>nt8</td>" in html

        replay = run(
            env,
            "replay",
            "--from",
            "-1h",
            "--namespace",
            f"{names.namespace}-sbx",
            "--rate",
            "20",
            timeout=300,
        )
        assert replay.returncode == 0, replay.stdout + replay.stderr
        counts = re.search(r"(\d+) signals replayed, (\d+) final, 0 not final", replay.stdout)
        assert counts and counts[1] == counts[2] == "4", replay.stdout
        assert "same outcome as the original: 4;" in replay.stdout, (
            replay.stdout
        )  # originals from the archive
    finally:
        run(env, "down", timeout=60)
