"""Images: one multi-stage, non-root Dockerfile per service package, installing exactly the package and
its local dependencies, with every third-party dependency pinned by requirements.lock; and, where a
Docker engine runs, the dev mesh built and brought up in containers (skipped with the reason otherwise)."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
LOCAL = {  # distribution name -> folder
    tomllib.loads(p.read_text())["project"]["name"]: p.parent.relative_to(ROOT).as_posix()
    for p in [*(ROOT / "libs").glob("*/pyproject.toml"), *(ROOT / "services").glob("*/pyproject.toml")]
}
LOCK = {
    m[1].lower().replace("_", "-"): m[2]
    for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", (ROOT / "requirements.lock").read_text(), re.M)
}


def project(folder: str) -> dict[str, object]:
    return tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def local_closure(folder: str) -> list[str]:
    """The folder and the local packages it depends on, dependencies first."""
    out: list[str] = []

    def visit(f: str) -> None:
        for dep in project(f).get("dependencies", []):  # type: ignore[attr-defined]
            name = Requirement(dep).name
            if name in LOCAL and LOCAL[name] not in out:
                visit(LOCAL[name])
        if f not in out:
            out.append(f)

    visit(folder)
    return out


def stages(text: str) -> list[str]:
    return re.split(r"^FROM ", text, flags=re.M)[1:]


@pytest.mark.parametrize("package", PACKAGES)
def test_one_multistage_non_root_dockerfile_per_service_package(package: str) -> None:
    path = ROOT / "services" / package / "Dockerfile"
    text = path.read_text()
    build, runtime = stages(text)[0], stages(text)[-1]
    assert len(stages(text)) >= 2 and " AS build" in build
    assert "slim" in runtime.split("\n")[0] and "COPY --from=build /venv /venv" in runtime
    user = re.findall(r"^USER (\S+)", runtime, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0"), user
    assert "requirements.lock" in build and "PIP_CONSTRAINT" in build and "pip check" in build
    copied = re.findall(r"^COPY (?!--from)(\S+) ", text, re.M)
    for src in copied:
        assert (ROOT / src).exists(), src
        assert "secrets" not in src, src
    closure = local_closure(f"services/{package}")
    assert [c for c in copied if c.startswith(("libs/", "services/"))] == closure
    installed = re.search(r"pip install (.+?) &&", build)
    assert installed and installed[1].split() == [f"./{c}" for c in closure]
    module = re.findall(r'^CMD \["python", "-m", "([\w.]+)"\]', runtime, re.M)
    assert module and importlib.util.find_spec(module[0]) is not None, module
    package_dir = ROOT / "services" / package / "src" / module[0].split(".")[0]
    assert package_dir.is_dir(), package_dir
    python = re.search(r"ARG PYTHON_VERSION=(\S+)", text)
    requires = str(project(f"services/{package}")["requires-python"])
    assert python and requires == f">={python[1]}", (python, requires)
    assert "HEALTHCHECK" in runtime and "/metrics" in runtime


@pytest.mark.parametrize("package", PACKAGES)
def test_every_third_party_dependency_is_pinned_by_the_lock(package: str) -> None:
    """What the image installs: each local package's dependencies, transitively, at the lock's versions."""
    todo = [
        Requirement(d)
        for f in local_closure(f"services/{package}")
        for d in project(f).get("dependencies", [])
    ]  # type: ignore[attr-defined]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = req.name.lower().replace("_", "-")
        if (
            name in seen
            or name in LOCAL
            or (req.marker is not None and not req.marker.evaluate({"extra": ""}))
        ):
            continue
        seen.add(name)
        assert name in LOCK, f"{name} (needed by {package}) is not pinned in requirements.lock"
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            pytest.fail(f"{name} is locked but not installed: run python3 dev.py")
        assert dist.version == LOCK[name], (name, dist.version, LOCK[name])
        todo += [Requirement(r) for r in dist.requires or [] if "extra ==" not in r]


def test_the_build_context_keeps_secrets_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for needed in ("deploy/secrets", ".venv", "var", "deploy/windows/certs"):
        assert needed in ignored, needed


def _engine_or_skip() -> None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        pytest.skip(f"no Docker engine here ({type(exc).__name__}): images are built and run where one is")


@pytest.mark.docker
@pytest.mark.slow
def test_the_dev_mesh_comes_up_in_containers() -> None:
    _engine_or_skip()
    from testcontainers.compose import DockerCompose

    mesh = DockerCompose(
        ROOT, compose_file_name=["docker-compose.yml", "deploy/compose.dev.yml"], build=True, wait=True
    )
    with mesh:
        out, _err, code = mesh.exec_in_container(["nexusctl", "status", "--json"], service_name="router")
        assert code in (0, 1), out
        status = json.loads(out)
        running = {s["service"] for s in status["services"]}
        assert {"router", "normalizer", "fx", "rollover", "fills", "nexus-bridge", "adapter-nt8"} <= running
        assert all(v["connected"] for v in status["venues"])
