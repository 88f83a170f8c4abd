"""Images: one multi-stage, non-root, parameterized Dockerfile (SERVICE, MODULE, BASE_IMAGE) builds every
service image, installing the runtime libraries, nexus_ops and the service package, with every
third-party dependency pinned by requirements.lock; compose builds each image from it. The images built
and the mesh run in containers: tests/containers."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from nexus_ops import deploy

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"
PACKAGES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
LOCAL = {  # distribution name -> folder
    tomllib.loads(p.read_text())["project"]["name"]: p.parent.relative_to(ROOT).as_posix()
    for p in [*(ROOT / "libs").glob("*/pyproject.toml"), *(ROOT / "services").glob("*/pyproject.toml")]
}
LOCK = {
    m[1].lower().replace("_", "-"): m[2]
    for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", (ROOT / "requirements.lock").read_text(), re.M)
}
COMPOSE_FILES = deploy.compose_files(ROOT)


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


def test_one_multistage_non_root_dockerfile_for_every_service() -> None:
    assert not list((ROOT / "services").glob("*/Dockerfile")), "one Dockerfile at the root builds every image"
    text = DOCKERFILE.read_text()
    build, runtime = stages(text)[0], stages(text)[-1]
    assert len(stages(text)) >= 2 and " AS build" in build
    base = re.search(r"^ARG BASE_IMAGE=(\S+)", text, re.M)
    assert base and base[1] == "python:${PYTHON_VERSION}-slim-bookworm", "the official slim image by default"
    assert runtime.startswith("${BASE_IMAGE} AS runtime") and "COPY --from=build /venv /venv" in runtime
    user = re.findall(r"^USER (\S+)", runtime, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0"), user
    assert "requirements.lock" in build and "PIP_CONSTRAINT" in build and "pip check" in build
    for arg in ("SERVICE", "MODULE"):
        assert f"ARG {arg}\n" in build and f"ARG {arg}\n" in runtime, arg
    copied = re.findall(r"^COPY (?!--from)(\S+) ", text, re.M)
    for src in copied:
        assert "secrets" not in src, src
        assert src == "services/${SERVICE}" or (ROOT / src).exists(), src
    installed = re.search(r"pip install (.+?) \\?\n? *&&", build, re.S)
    assert installed, build
    paths = [p.removeprefix("./") for p in installed[1].replace("\\", " ").split()]
    assert paths[-1] == "services/${SERVICE}" and paths[:-1] == [c for c in copied if c.startswith("libs/")]
    for package in PACKAGES:  # what each service needs is installed, in dependency order
        closure = [c for c in local_closure(f"services/{package}") if c.startswith("libs/")]
        assert [p for p in paths if p in closure] == closure, (package, closure)
    assert "libs/ops" in paths and "libs/testing" not in paths  # nexusctl yes, pytest no
    python = re.search(r"ARG PYTHON_VERSION=(\S+)", text)
    for package in PACKAGES:
        requires = str(project(f"services/{package}")["requires-python"])
        assert python and requires == f">={python[1]}", (package, python, requires)
    assert "HEALTHCHECK" in runtime and "/metrics" in runtime
    assert 'exec python -m \\"$SERVICE_MODULE\\"' in runtime and "SERVICE_MODULE=${MODULE}" in runtime


def test_compose_builds_every_image_from_the_one_dockerfile() -> None:
    builds = deploy.image_builds(ROOT)
    for image, args in builds.items():
        service = args["SERVICE"]
        assert image == f"nexus-mesh/{service}", (image, service)
        assert (ROOT / "services" / service / "pyproject.toml").exists(), service
        top = args["MODULE"].split(".")[0]
        assert (ROOT / "services" / service / "src" / top).is_dir(), args
        assert importlib.util.find_spec(args["MODULE"]) is not None, args
    # every image of ours that a compose file runs is built somewhere from the one Dockerfile
    for path in COMPOSE_FILES:
        for name, svc in (yaml.safe_load(path.read_text()).get("services") or {}).items():
            image = str(svc.get("image", ""))
            if image.startswith("nexus-mesh/"):
                assert image.split(":")[0] in builds, (path.name, name, image)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_third_party_dependency_is_pinned_by_the_lock(package: str) -> None:
    """What the image installs: each local package's dependencies, transitively, at the lock's versions."""
    folders = [*local_closure(f"services/{package}"), *local_closure("libs/ops")]
    todo = [Requirement(d) for f in folders for d in project(f).get("dependencies", [])]  # type: ignore[attr-defined]
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


def test_images_build_runs_one_docker_build_per_image_with_its_args() -> None:
    cmds = deploy.build_commands(ROOT, "v9", base_image="local/python:3.11")
    assert len(cmds) == len(deploy.image_builds(ROOT)) >= 4
    for argv in cmds:
        assert argv[:4] == ["docker", "build", "-f", str(ROOT / "Dockerfile")] and argv[-1] == str(ROOT)
        image = argv[argv.index("-t") + 1]
        args = dict(a.split("=", 1) for a in argv[argv.index("-t") + 2 : -1] if a != "--build-arg")
        assert image == f"nexus-mesh/{args['SERVICE']}:v9" and args["BASE_IMAGE"] == "local/python:3.11", argv
        assert importlib.util.find_spec(args["MODULE"]) is not None, argv
