"""Config files under NX_CONFIG_DIR (deploy/config): read once at start, validated, and a bad one
fails the service at start with a message naming the file and the field."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from nexus_protocol.errors import ConfigError
from nexus_protocol.symbols import SymbolRegistry

T = TypeVar("T", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (NX_CONFIG_DIR points at the folder)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def validate(raw: Any, model: type[T], source: Path | str, *, prefix: tuple[str, ...] = ()) -> T:
    """`raw` as `model`, or a ConfigError naming the source, the field path, the problem and the value."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in prefix + tuple(first["loc"]))
        raise ConfigError(f"{source}: {where}: {first['msg']} (got {first.get('input')!r})") from None


def load_model(path: Path, model: type[T], *, section: str | None = None) -> T:
    raw = read_yaml(path)
    if section is not None:
        raw = (raw or {}).get(section)
        if raw is None:
            raise ConfigError(f"{path}: missing section {section!r}")
    return validate(raw, model, path, prefix=(section,) if section else ())


def load_symbols(config_dir: Path) -> SymbolRegistry:
    path = Path(config_dir) / "symbols.yaml"
    try:
        return SymbolRegistry.from_yaml(path.read_text(), source=str(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (NX_CONFIG_DIR points at the folder)") from None


def check_roots(roots: Iterable[str], symbols: SymbolRegistry, where: str) -> None:
    """Each root names a symbol of the registry, or a ConfigError naming `where` and the root."""
    for root in roots:
        if root not in symbols.symbols:
            known = ", ".join(sorted(symbols.symbols))
            raise ConfigError(f"{where}: unknown root {root!r} (symbols.yaml has {known})")
