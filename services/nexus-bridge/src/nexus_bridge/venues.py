"""Which venues trade which roots in this environment (deploy/config/venues.yaml), for the venue guard.

The router owns venues.yaml; the bridge reads only what it needs (enabled, can_trade, symbols) and
ignores the rest, so it never imports the gateway (services do not import each other).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from nexus_mesh.config_files import read_yaml
from nexus_protocol.errors import ConfigError


class _Venue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    symbols: tuple[str, ...] = ()
    enabled: bool = True
    can_trade: bool = True


def load_trading_venues(config_dir: Path, environment: str) -> dict[str, tuple[str, ...]]:
    """venue -> roots it trades, for the enabled venues that can trade."""
    path = Path(config_dir) / "venues.yaml"
    raw = read_yaml(path) or {}
    envs = raw.get("environments") or {} if isinstance(raw, dict) else {}
    if environment not in envs:
        raise ConfigError(f"NX_ENVIRONMENT={environment!r}: not in {path} (known: {', '.join(sorted(envs))})")
    out: dict[str, tuple[str, ...]] = {}
    for name, body in (envs[environment] or {}).items():
        try:
            v = _Venue.model_validate(body)
        except ValidationError as exc:
            raise ConfigError(
                f"{path}: environments.{environment}.{name}: {exc.errors()[0]['msg']}"
            ) from None
        if v.enabled and v.can_trade:
            out[str(name)] = v.symbols
    return out


def venues_for(symbol: str, venues: dict[str, tuple[str, ...]], wanted: tuple[str, ...] = ()) -> list[str]:
    """The venues that would get a leg of a signal on `symbol` (those it named, if it named some)."""
    return [v for v, roots in venues.items() if symbol in roots and (not wanted or v in wanted)]
