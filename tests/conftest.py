"""Test kinds by folder: unit (no I/O), integration (real Redis), e2e (mesh as processes),
chaos (kill and restart), conformance (protocol vectors). Markers follow the folder."""

from __future__ import annotations

import pytest

_KINDS = ("unit", "integration", "e2e", "chaos", "conformance")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        for kind in _KINDS:
            if kind in parts:
                item.add_marker(getattr(pytest.mark, kind))
