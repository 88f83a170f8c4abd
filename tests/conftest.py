"""Test kinds by folder: unit (no I/O), integration (real Redis), e2e (mesh as processes),
chaos (kill and restart), conformance (protocol vectors). Markers follow the folder.

System tools: a test that runs a command from outside the workspace says so with
`@pytest.mark.tool("promtool", apt="prometheus")`. Where the command is missing the test is skipped with
the reason, except under CI=true, where it fails: CI (.ci/run) installs every tool, and a test CI skips is
a test nobody runs."""

from __future__ import annotations

import os
import shutil

import pytest

_KINDS = ("unit", "integration", "e2e", "chaos", "conformance")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        for kind in _KINDS:
            if kind in parts:
                item.add_marker(getattr(pytest.mark, kind))


def missing_tools(item: pytest.Item) -> list[str]:
    """'command (apt-get install package)' for each command the item's `tool` markers name and PATH lacks."""
    return [
        f"{cmd} (apt-get install {mark.kwargs.get('apt', cmd)})"
        for mark in item.iter_markers("tool")
        for cmd in mark.args
        if shutil.which(cmd) is None
    ]


def pytest_runtest_setup(item: pytest.Item) -> None:
    missing = missing_tools(item)
    if not missing:
        return
    reason = f"needs {', '.join(missing)}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}: CI must install it (.ci/run TOOLS)", pytrace=False)
    pytest.skip(reason)
