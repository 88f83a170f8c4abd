"""`python -m nexus_mt5`: one MetaTrader 5 adapter instance (NX_VENUE, NX_MT5_* settings, see `config`)."""

from __future__ import annotations

import sys

import redis

from nexus_mesh.runner import run_service
from nexus_mt5.adapter import Mt5Adapter
from nexus_mt5.config import Mt5Settings
from nexus_protocol.errors import ConfigError


def build(settings: Mt5Settings, client: redis.Redis) -> Mt5Adapter:
    if settings.mt5_mode == "native" and sys.platform != "win32":
        raise ConfigError("NX_MT5_MODE=native needs Windows (the MetaTrader5 package); use rpyc elsewhere")
    return Mt5Adapter(settings, client)


if __name__ == "__main__":
    raise SystemExit(run_service(Mt5Settings, build))
