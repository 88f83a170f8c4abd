"""Every adapter has the one file set (docs/developing.md, "Adapters"), and the template a new platform
copies (services/adapter-template) has exactly it, imports, implements the whole adapter base and maps."""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import pytest

from nexus_mesh.adapter import Adapter, AdapterSettings
from nexus_protocol.enums import OrderStatus
from nexus_protocol.messages import VenueOrder
from nexus_testing.archive import signal_life

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "services" / "adapter-template"
FOLDER = ("README.md", "pyproject.toml")
PACKAGE = (
    "__init__.py",
    "__main__.py",
    "config.py",
    "mapping.py",
    "client.py",
    "adapter.py",
    "py.typed",
    "simulator/__init__.py",
    "simulator/__main__.py",
)
ADAPTERS = sorted(p for p in (ROOT / "services").glob("adapter-*") if (p / "pyproject.toml").exists())


def package(folder: Path) -> Path:
    (src,) = (folder / "src").iterdir()
    return src


@pytest.mark.parametrize("folder", ADAPTERS, ids=[p.name for p in ADAPTERS])
def test_every_adapter_has_the_file_set(folder: Path) -> None:
    missing = [f for f in FOLDER if not (folder / f).is_file()]
    missing += [f"src/{package(folder).name}/{f}" for f in PACKAGE if not (package(folder) / f).is_file()]
    if folder != TEMPLATE:  # mapping.py is pure and unit-tested
        platform = folder.name.removeprefix("adapter-")
        missing += [t for t in (f"tests/unit/{platform}/test_mapping.py",) if not (ROOT / t).is_file()]
    assert missing == [], f"{folder.name} lacks {missing} (docs/developing.md, 'Adapters')"


def test_the_template_is_the_file_set_and_nothing_else() -> None:
    files = {
        p.relative_to(package(TEMPLATE)).as_posix()
        for p in package(TEMPLATE).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert files == set(PACKAGE)
    assert {p.name for p in TEMPLATE.iterdir() if p.is_file()} == set(FOLDER)


def test_the_template_imports_implements_the_whole_base_and_maps_an_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(TEMPLATE / "src"))
    try:
        adapter = importlib.import_module("nexus_template.adapter")
        config = importlib.import_module("nexus_template.config")
        main = importlib.import_module("nexus_template.__main__")
        importlib.import_module("nexus_template.simulator.__main__")
        assert issubclass(adapter.TemplateAdapter, Adapter) and not inspect.isabstract(
            adapter.TemplateAdapter
        )
        assert issubclass(config.TemplateSettings, AdapterSettings)
        assert config.TemplateSettings().service == "adapter-template"
        assert callable(main.build)
        mapping = importlib.import_module("nexus_template.mapping")
        order = signal_life("01T", 1_795_000_000_000)[2].env.body
        assert isinstance(order, VenueOrder)
        sent = mapping.platform_order(order)
        assert (sent.name, sent.symbol, sent.buy, sent.quantity) == (
            order.client_order_id,
            "NQ 12-26",
            True,
            1,
        )
        assert mapping.order_report(sent.name, "filled").status is OrderStatus.FILLED
        assert mapping.order_report(sent.name, "odd").status is OrderStatus.REJECTED
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == "nexus_template"]:
            del sys.modules[name]


def test_every_service_folder_and_lib_has_its_readme() -> None:
    """docs/design.md, "Layout": each holds its own pyproject.toml, README.md and src/<package>/."""
    folders = [p for p in (*(ROOT / "services").iterdir(), *(ROOT / "libs").iterdir()) if p.is_dir()]
    missing = [
        f"{p.relative_to(ROOT)}/{f}"
        for p in folders
        for f in ("pyproject.toml", "README.md", "src")
        if not (p / f).exists()
    ]
    assert folders and missing == []
