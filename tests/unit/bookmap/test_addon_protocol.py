"""The add-on <-> adapter schema: the pydantic models and the add-on's hand-written encoder both produce
exactly the texts in `addon_vectors.json`; the add-on script stays runnable on Bookmap's Python 3.7."""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from nexus_bookmap import addon_protocol as ap
from nexus_bookmap.simulator import ADDON_SCRIPT
from nexus_protocol.errors import DecodeError

VECTORS = json.loads((Path(ap.__file__).parent / "addon_vectors.json").read_text())
VALID = VECTORS["valid"]
INVALID = VECTORS["invalid"]


def _load_addon() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nexus_bookmap_addon_under_test", ADDON_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ADDON = _load_addon()


def _args(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: math.nan if v == "NaN" else v for k, v in raw.items()}


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_models_decode_and_reencode_each_vector_exactly(vector: dict[str, Any]) -> None:
    message = ap.decode(vector["json"])
    assert message.type == vector["message"]["type"]
    assert ap.to_json_dict(message) == vector["message"]
    assert ap.encode(message) == vector["json"]


@pytest.mark.parametrize("vector", [v for v in VALID if v["builder"]], ids=lambda v: v["name"])
def test_addon_builders_produce_each_vector_exactly(vector: dict[str, Any]) -> None:
    built = getattr(ADDON, vector["builder"])(**_args(vector["args"]))
    assert ADDON.encode(built) == vector["json"]


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_decoder_refuses_invalid_frames(vector: dict[str, str]) -> None:
    with pytest.raises(DecodeError):
        ap.decode(vector["json"])


def test_every_message_type_and_every_addon_builder_has_a_vector() -> None:
    types = {v["message"]["type"] for v in VALID}
    assert types == {m.model_fields["type"].default for m in ap.ALL_MESSAGES}
    builders = {name for name in dir(ADDON) if name.startswith("build_")}
    assert builders == {v["builder"] for v in VALID if v["builder"]}


def test_addon_encoder_refuses_nan_like_the_models() -> None:
    with pytest.raises(ValueError, match="JSON"):
        ADDON.encode({"type": "trade", "price": math.nan})
    assert ADDON.finite(math.nan) is None
    assert ADDON.finite(None) is None
    assert ADDON.finite(2) == 2.0


def test_addon_grid_conversions_are_exact() -> None:
    inst = ADDON.Instrument("BTC", "BTC", True, 0.1, 1000.0, 1.0, {"trading": True})
    assert inst.price(123) == 12.3  # level * pips without binary noise
    assert inst.size(1500) == 1.5
    assert inst.price_level(12.3) == 123
    assert inst.price_level(12.35) is None  # off the tick grid: refused, never rounded silently
    assert inst.size_level(0.002) == 2
    assert inst.size_level(0.0005) is None
    assert inst.size_level(0) is None
    assert inst.can_trade is True
    assert ADDON.Instrument("X", "X", False, 1.0, 1.0, 1.0, {}).can_trade is False


# -- Bookmap's embedded Python: 3.7 syntax, no runtime builtin generics, only bookmap + websocket ------------

SOURCE = ADDON_SCRIPT.read_text()
TREE = ast.parse(SOURCE)


def test_addon_parses_with_python_3_7_grammar() -> None:
    ast.parse(SOURCE, feature_version=(3, 7))


def test_addon_has_no_runtime_builtin_generics() -> None:
    annotations: set[int] = set()
    for node in ast.walk(TREE):
        if isinstance(node, ast.arg | ast.AnnAssign) and getattr(node, "annotation", None) is not None:
            annotations.update(id(n) for n in ast.walk(node.annotation))  # type: ignore[union-attr]
        if isinstance(node, ast.FunctionDef) and node.returns is not None:
            annotations.update(id(n) for n in ast.walk(node.returns))
    generics = {"list", "dict", "tuple", "set", "frozenset", "type"}
    offenders = [
        node.lineno
        for node in ast.walk(TREE)
        if isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id in generics
        and id(node) not in annotations
    ]
    assert offenders == []


def test_addon_imports_only_the_stdlib_bookmap_and_websocket() -> None:
    imported = set()
    for node in ast.walk(TREE):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name != "__future__"}
    assert third_party == {"bookmap", "websocket"}
    assert "from __future__ import annotations" in SOURCE
