"""A Docker engine for the container tests: the one that answers, else one started here for the run.

Where no engine answers (DOCKER_HOST, else /var/run/docker.sock) and this is root, Debian's docker.io is
installed if missing and `dockerd` is started with everything in a temporary folder: data root, exec
root, pid file and socket, no iptables rules and no default bridge (the tests put every container on
the host's network, on loopback addresses). The folder is a tmpfs when the machine has the memory to
spare (TMPFS_NEEDS): the images' and containers' layers never reach the disk, which a loaded machine
shares, and removing them is an unmount. `stop()` ends that dockerd and removes the folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker

from nexus_mesh.embedded import terminate

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
APT_PACKAGES = ("docker.io", "docker-compose", "debootstrap")
TMPFS_SIZE = "12g"  # a limit: only what is written takes memory (the test run's images: about 3 GB)
TMPFS_NEEDS = 10 << 30  # MemAvailable, bytes, to put the engine's folder in memory


class EngineUnavailable(RuntimeError):
    """No engine answers and none could be started; the message says why."""


@dataclass
class Engine:
    host: str  # DOCKER_HOST for clients
    folder: Path | None = None  # set when this process started the engine
    process: subprocess.Popen[bytes] | None = None

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=300)

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.process is None or self.folder is None:
            return
        terminate(self.process, timeout_s)
        self.process = None
        _unmount_below(self.folder)
        shutil.rmtree(self.folder, ignore_errors=True)


def answers(host: str) -> bool:
    try:
        client = docker.DockerClient(base_url=host, timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def find_or_start(log: Path | None = None) -> Engine:
    """The engine that answers, else one started here; EngineUnavailable with the reason otherwise."""
    for host in filter(None, (os.environ.get("DOCKER_HOST"), DEFAULT_SOCKET)):
        if answers(host):
            return Engine(host)
    if os.geteuid() != 0:
        raise EngineUnavailable("no Docker engine answers and starting one (dockerd) needs root")
    install_packages()
    return start(log)


def install_packages() -> None:
    """Debian's docker.io (dockerd, containerd, runc), docker-compose and debootstrap, when missing."""
    missing = [
        p
        for p, cmd in zip(APT_PACKAGES, ("dockerd", "docker-compose", "debootstrap"), strict=True)
        if not shutil.which(cmd)
    ]
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise EngineUnavailable(f"{', '.join(missing)} missing and no apt-get to install them")
    policy = Path("/usr/sbin/policy-rc.d")
    added = not policy.exists()
    if added:  # the packages must not start their daemons here
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
            if done.returncode:
                raise EngineUnavailable(f"{' '.join(cmd)} failed: {done.stderr[-1000:]}")
    finally:
        if added:
            policy.unlink(missing_ok=True)


def start(log: Path | None = None, timeout_s: float = 60.0) -> Engine:
    folder = Path(tempfile.mkdtemp(prefix="nexus-docker-"))
    if _available_memory() >= TMPFS_NEEDS:
        mount = ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs", str(folder)]
        subprocess.run(mount, capture_output=True, check=False)  # else: on disk, as the folder is
    host = f"unix://{folder}/docker.sock"
    out = (log or folder / "dockerd.log").open("ab")
    process = subprocess.Popen(
        [
            shutil.which("dockerd") or "dockerd",
            "--iptables=false",
            "--ip-masq=false",
            "--bridge=none",
            f"--data-root={folder}/data",
            f"--exec-root={folder}/exec",
            f"--pidfile={folder}/docker.pid",
            f"--host={host}",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    engine = Engine(host, folder, process)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            engine.stop()
            raise EngineUnavailable(f"dockerd exited with {process.returncode} (log: {out.name})")
        if answers(host):
            return engine
        time.sleep(0.5)
    engine.stop()
    raise EngineUnavailable(f"dockerd did not answer within {timeout_s:.0f} s (log: {out.name})")


def _available_memory() -> int:
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return 0
    kib = [int(line.split()[1]) for line in meminfo if line.startswith("MemAvailable:")]
    return kib[0] * 1024 if kib else 0


def _unmount_below(folder: Path) -> None:
    """Mounts dockerd left under its folder (overlays, the shm of a killed container), deepest first,
    then the folder's own tmpfs."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return
    points = [p for line in lines if (p := line.split()[1]).startswith(str(folder))]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
