"""The soak and the storm on one dev mesh with every real adapter (docs/storm.md).

Short by default (the normal run: a soak of ~40 s, then a storm of ~75 s with seed 16); long by flag:
    NX_SOAK_SECONDS=3600                           the soak's length
    NX_STORM_SIGNALS=10000 NX_STORM_RATE=6         the storm until that many signals were sent ...
    NX_STORM_SECONDS=1800                          ... or for that long (whichever comes first)
    NX_STORM_SEED=7                                another plan
    NX_STORM_REPORT=var/storm.json                 where the JSON report goes (else the test's folder)
The soak runs first (the mesh is fresh; nothing is killed); the storm's checker then judges every
signal of both.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from soak_probe import Probe, redis_by_family
from storm_harness import (
    LINKS,
    SYMBOLS,
    Driver,
    NemesisRun,
    StormMesh,
    env_float,
    judge,
    load,
    report_path,
    settle,
)

from nexus_mesh.settings import MeshSettings
from nexus_testing.storm.nemesis import Pace
from nexus_testing.storm.report import table

SEED = int(env_float("NX_STORM_SEED", 16))
STORM_SIGNALS = int(env_float("NX_STORM_SIGNALS", 0)) or None
STORM_SECONDS = env_float("NX_STORM_SECONDS", 0 if STORM_SIGNALS else 75)
STORM_RATE = env_float("NX_STORM_RATE", 6.0)
SOAK_SECONDS = env_float("NX_SOAK_SECONDS", 40)
SOAK_RATE = env_float("NX_SOAK_RATE", 2.0)
BOUND_S = env_float("NX_STORM_BOUND_S", 120)
LONG = STORM_SIGNALS is not None or STORM_SECONDS > 600 or SOAK_SECONDS > 600
TIMEOUT_S = 24 * 3600 if LONG else 900


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StormMesh, Driver]]:
    mesh = StormMesh(tmp_path_factory.mktemp("storm"))
    driver: Driver | None = None
    try:
        mesh.start()
        driver = Driver(mesh, SEED)
        yield mesh, driver
    except BaseException:
        print(mesh.dev.logs())
        raise
    finally:
        if driver is not None:
            driver.close()
        mesh.stop()


def background(target: Any, *args: Any) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    t = threading.Thread(target=target, args=(*args, stop), daemon=True)
    t.start()
    return t, stop


MD_MAXLEN = int(os.environ.get("NX_MD_MAXLEN", MeshSettings.model_fields["md_maxlen"].default))


def key_family(key: str) -> str:
    """`ns:{md:raw:nt8}` -> `md:raw:*`, `ns:{md:NQ}` -> `md:*`, `ns:{orders:nt8}:seen:x` -> `:seen:
    (dedupe)`, `ns:{state:fills}:positions` -> `state:fills`, others by their hash tag."""
    tag = key[key.find("{") + 1 : key.find("}")] if "{" in key else key.partition(":")[2]
    if ":seen:" in key:
        return ":seen: (dedupe)"
    for prefix in ("md:raw:", "md:"):
        if tag.startswith(prefix):
            return prefix + "*"
    return tag


@pytest.mark.timeout(TIMEOUT_S)
def test_soak_memory_slopes_at_a_steady_signal_and_tick_rate(rig: tuple[StormMesh, Driver]) -> None:
    mesh, driver = rig
    md = [mesh.names.md_raw(v) for v in LINKS]

    def ticks() -> int:
        """Ticks the adapters published so far (what the streams were given, trimmed or not)."""
        c = mesh.client
        return sum(int(c.xinfo_stream(s).get("entries-added", 0)) for s in md if c.exists(s))

    probe = Probe(mesh.pids, mesh.client, every_s=max(1.0, SOAK_SECONDS / 60))
    ticks0, sent0, t0 = ticks(), len(driver.sent), time.monotonic()
    sampler, stop_sampler = background(probe.run)
    sender, stop_sender = background(lambda s: driver.run(SOAK_RATE, s))
    time.sleep(SOAK_SECONDS)
    stop_sender.set()
    stop_sampler.set()
    sender.join()
    sampler.join()
    took = time.monotonic() - t0
    print(
        f"\nsoak: {took:.0f} s, {len(driver.sent) - sent0} signals ({SOAK_RATE:g}/s asked), "
        f"{(ticks() - ticks0) / took:.1f} ticks/s from the platforms, load {load()}\n{probe.table()}\n"
        f"market data streams capped at {MD_MAXLEN:,} entries each (NX_MD_MAXLEN)\n"
        f"{redis_by_family(mesh.client, mesh.names.namespace, key_family)}"
    )
    assert all(len(s) >= 2 for s in probe.series.values()), probe.series.keys()


@pytest.mark.timeout(TIMEOUT_S)
def test_storm_loses_and_doubles_nothing_and_every_signal_becomes_final(
    rig: tuple[StormMesh, Driver], tmp_path: Path
) -> None:
    mesh, driver = rig
    nemesis = NemesisRun(mesh, SEED, Pace())
    sent0, t0 = len(driver.sent), time.monotonic()
    limit = driver.reached + STORM_SIGNALS if STORM_SIGNALS else None
    sender, stop_sender = background(lambda s: driver.run(STORM_RATE, s, limit))

    shown = [t0]

    def over() -> bool:
        now = time.monotonic()
        if now - shown[0] >= 60:  # a line a minute, for a long run's log
            shown[0] = now
            t, n = nemesis.tally, len(driver.sent) - sent0
            kills, faults = sum(t.kills.values()), sum(t.faults_armed.values())
            print(f"storm: {now - t0:.0f} s, {n} signals, {kills} kills, {t.redis_restarts} Redis restarts, "
                  f"{faults} faults", flush=True)  # fmt: skip
        return not sender.is_alive() or bool(STORM_SECONDS and now - t0 > STORM_SECONDS)

    nemesis.run(over)
    seconds = time.monotonic() - t0
    stop_sender.set()
    sender.join()
    settled_s = settle(mesh, driver.sent, timeout_s=600 if LONG else 240)
    run = {
        "seed": SEED, "seconds": seconds, "rate_per_s": STORM_RATE, "symbols": list(SYMBOLS),
        "storm_signals": len(driver.sent) - sent0, "settled_s": round(settled_s, 1), "load": load(),
    }  # fmt: skip
    out = report_path(tmp_path / "storm.json")
    rep = judge(mesh, driver, nemesis, run=run, bound_s=BOUND_S, out=out)
    why = "\n".join(f"  {n:>6}  {reason}" for reason, n in rep["rejected_why"].items())
    print(f"\n{table(rep)}\nrejected, why:\n{why}\nreport: {out}")
    if not rep["ok"]:
        print(mesh.dev.logs())
    assert rep["ok"], rep["failures"]
