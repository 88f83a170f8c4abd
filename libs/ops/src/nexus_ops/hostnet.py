"""A compose override that puts every service on the host's network, each on its own loopback address.

The compose files give the mesh a private network, as a real deployment wants. Where traffic must stay
on this host's loopback (the tests), this override gives every service `network_mode: host` and its
own address in 127.0.0.0/8, and maps every service name to its address (`extra_hosts`), so nothing else
changes: `redis://redis:6379`, Prometheus targets such as `router:9100` and each service's own ports
work as on the private network, and two services can use the same port. What listens binds its own
address: every service's metrics (NX_METRICS_HOST), every `NX_*_HOST` setting that names the wildcard,
Redis (`--bind`) and Prometheus (`--web.listen-address`). Ports published to the host are left as
they are: with the host's network there is nothing to publish, and the engine ignores them.

    docker-compose -f docker-compose.yml -f deploy/compose.dev.yml config > resolved.yml
    override = host_network(yaml.safe_load(resolved), "127.77.0")   # write it, add it as the last -f
"""

from __future__ import annotations

import ipaddress
from typing import Any

WILDCARD = {"0.0.0.0", "::", ""}


def addresses(services: list[str], prefix: str) -> dict[str, str]:
    """Service name -> its address `prefix.N` (N from 2, in name order); prefix like "127.77.0"."""
    if len(services) > 250:
        raise ValueError(f"{len(services)} services do not fit in {prefix}.2-254")
    out = {name: f"{prefix}.{i}" for i, name in enumerate(sorted(services), start=2)}
    for addr in out.values():
        if not ipaddress.ip_address(addr).is_loopback:
            raise ValueError(f"{addr} is not a loopback address (the prefix must be in 127.0.0.0/8)")
    return out


def host_network(config: dict[str, Any], prefix: str, health_interval: str | None = None) -> dict[str, Any]:
    """The override for a resolved compose config (the output of `docker-compose config`);
    `health_interval` (e.g. "2s") checks health more often than the images do (tests wait less)."""
    services: dict[str, Any] = config["services"]
    addr = addresses(list(services), prefix)
    hosts = [f"{name}:{ip}" for name, ip in sorted(addr.items())]
    out: dict[str, Any] = {}
    for name, svc in services.items():
        ip = addr[name]
        entry: dict[str, Any] = {"network_mode": "host", "extra_hosts": hosts}
        env = _environment(svc.get("environment"))
        if _is_python(svc):
            binds = {k: ip for k, v in env.items() if k.startswith("NX_") and k.endswith("_HOST") and v in WILDCARD}
            entry["environment"] = {"NX_METRICS_HOST": ip, **binds}
            if health_interval:
                entry["healthcheck"] = {"interval": health_interval}
        command = [str(c) for c in svc.get("command") or []]
        if command[:1] == ["redis-server"]:
            entry["command"] = [*command, "--bind", ip]
            entry["healthcheck"] = {"test": ["CMD", "redis-cli", "-h", ip, "ping"], "interval": health_interval or "5s"}
        elif "prometheus" in str(svc.get("image", "")):
            entry["command"] = [*command, f"--web.listen-address={ip}:9090"]
        out[name] = entry
    return {"version": config.get("version", "3.8"), "services": out} if "version" in config else {"services": out}


def _is_python(svc: dict[str, Any]) -> bool:
    command = svc.get("command") or []
    return bool(command) and command[0] == "python"


def _environment(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {k: "" if v is None else str(v) for k, v in raw.items()}
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
