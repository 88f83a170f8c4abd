"""The soak's probe: the resident memory of every process of the mesh and Redis's used_memory, sampled
at a steady pace, and each series' slope (least squares, bytes per minute)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psutil
import redis


def slope_per_min(samples: list[tuple[float, float]]) -> float:
    """The least-squares slope of (seconds, bytes) samples, in bytes per minute (0 for fewer than 2)."""
    n = len(samples)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mv = sum(v for _, v in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    return 60.0 * sum((t - mt) * (v - mv) for t, v in samples) / var


@dataclass
class Probe:
    """`sample()` every `every_s` on a thread: RSS per process name (a restarted process continues its
    name's series) and Redis's used_memory as `redis`."""

    pids: Callable[[], Mapping[str, int]]
    client: redis.Redis
    every_s: float = 2.0
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def sample(self, t: float) -> None:
        for name, pid in self.pids().items():
            try:
                rss = psutil.Process(pid).memory_info().rss
            except psutil.Error:
                continue
            self.series.setdefault(name if name != "redis" else "redis-server", []).append((t, rss))
        try:
            used = int(self.client.info("memory")["used_memory"])
        except redis.RedisError:
            return
        self.series.setdefault("redis used_memory", []).append((t, used))

    def run(self, stop: threading.Event) -> None:
        t0 = time.monotonic()
        while not stop.is_set():
            self.sample(time.monotonic() - t0)
            stop.wait(self.every_s)

    def table(self) -> str:
        """Per series: first and last sample, the slope over the run and over its last third (growth
        that levels off, warm-up or a capped stream filling, shows as a last third near 0)."""
        rows = [
            f"{'process':<28}{'samples':>8}{'first MB':>10}{'last MB':>10}{'slope KB/min':>14}"
            f"{'last third':>12}"
        ]
        for name, s in sorted(self.series.items()):
            rows.append(
                f"{name:<28}{len(s):>8}{s[0][1] / 2**20:>10.1f}{s[-1][1] / 2**20:>10.1f}"
                f"{slope_per_min(s) / 1024:>14.1f}{slope_per_min(s[len(s) * 2 // 3 :]) / 1024:>12.1f}"
            )
        return "\n".join(rows)

    def slopes(self) -> dict[str, float]:
        return {name: slope_per_min(s) for name, s in sorted(self.series.items())}


def redis_by_family(client: redis.Redis, namespace: str, family: Callable[[str], str]) -> str:
    """What Redis holds at the end, by key family (`family(key)`): keys, stream entries, MB
    (MEMORY USAGE, sampled for large streams): where used_memory went."""
    rows: dict[str, list[int]] = {}
    for raw in client.scan_iter(match=f"{namespace}:*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        row = rows.setdefault(family(key), [0, 0, 0])
        row[0] += 1
        row[2] += int(client.memory_usage(key, samples=50) or 0)
        if client.type(key) in (b"stream", "stream"):
            row[1] += int(client.xlen(key))
    out = [f"{'redis keys':<28}{'keys':>8}{'entries':>12}{'MB':>10}"]
    for name, (keys, entries, size) in sorted(rows.items(), key=lambda kv: -kv[1][2]):
        out.append(f"{name:<28}{keys:>8}{entries:>12}{size / 2**20:>10.1f}")
    return "\n".join(out)
