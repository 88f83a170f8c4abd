"""The mesh's compose files put on the host's network, each service on its own loopback address.

The compose files give the mesh a private network, as a real deployment wants. Where traffic must stay
on this host's loopback (the tests), the files are rendered as compose merges them (`docker-compose
config`) and every service gets `network_mode: host` and its own address in 127.0.0.0/8, with every
service name mapped to its address (`extra_hosts`), so nothing else changes: `redis://redis:6379`,
Prometheus targets such as `router:9100` and each service's own ports work as on the private network,
and two services can use the same port. What listens binds its own address: every service's metrics
(NX_METRICS_HOST), every `NX_*_HOST` setting that names the wildcard, Redis (`--bind`) and Prometheus
(`--web.listen-address`). Published ports and networks are dropped: there is nothing to publish on
the host's network, and Compose 1.29 refuses both beside `network_mode: host` (an override file cannot
remove them, hence the rendering).

    docker-compose -f docker-compose.yml -f deploy/compose.dev.yml config > resolved.yml
    on_host = host_network(yaml.safe_load(resolved), "127.77.0")   # write it, run compose with it alone
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

WILDCARD = {"0.0.0.0", "::", ""}


def addresses(services: list[str], prefix: str, known: dict[str, str] | None = None) -> dict[str, str]:
    """Service name -> its address `prefix.N` (N from 2, in name order); prefix like "127.77.0".
    `known` addresses stay as they were (a service added later takes a free number)."""
    known = {n: a for n, a in (known or {}).items() if n in services}
    free = (f"{prefix}.{i}" for i in range(2, 255) if f"{prefix}.{i}" not in known.values())
    out = {**known, **{name: next(free, "") for name in sorted(services) if name not in known}}
    for addr in out.values():
        if not addr:
            raise ValueError(f"{len(services)} services do not fit in {prefix}.2-254")
        if not ipaddress.ip_address(addr).is_loopback:
            raise ValueError(f"{addr} is not a loopback address (the prefix must be in 127.0.0.0/8)")
    return dict(sorted(out.items()))


def host_network(
    config: dict[str, Any],
    prefix: str,
    healthcheck: dict[str, Any] | None = None,
    replicated: Iterable[str] = (),
    known: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A resolved compose config (the output of `docker-compose config`) on the host's network.
    `healthcheck` (e.g. {"interval": "3s"}) changes our services' healthchecks (tests wait less).
    `replicated`: services run as several replicas (`--scale`), which share their address: each serves
    /metrics on a free port (NX_METRICS_PORT=0) and has no healthcheck (it could not find the port).
    `known`: addresses given before (a re-rendering keeps them; see `addresses`)."""
    replicated = set(replicated)
    services: dict[str, Any] = config["services"]
    addr = addresses(list(services), prefix, known)
    hosts = [f"{name}:{ip}" for name, ip in sorted(addr.items())]
    out: dict[str, Any] = {}
    for name, svc in services.items():
        ip = addr[name]
        entry = {k: v for k, v in svc.items() if k not in ("ports", "networks", "hostname", "expose")}
        entry.update(network_mode="host", extra_hosts=sorted({*_hosts(svc.get("extra_hosts")), *hosts}))
        if _is_python(svc):
            env = _environment(svc.get("environment"))
            binds = {
                k: ip for k, v in env.items() if k.startswith("NX_") and k.endswith("_HOST") and v in WILDCARD
            }
            entry["environment"] = {**env, "NX_METRICS_HOST": ip, **binds}
            if name in replicated:
                entry["environment"]["NX_METRICS_PORT"] = "0"
                entry["healthcheck"] = {"disable": True}
            elif healthcheck:
                entry["healthcheck"] = {**svc.get("healthcheck", {}), **healthcheck}
        command = [str(c) for c in svc.get("command") or []]
        if command[:1] == ["redis-server"]:
            entry["command"] = [*command, "--bind", ip]
            entry["healthcheck"] = {
                **svc.get("healthcheck", {}),
                "test": ["CMD", "redis-cli", "-h", ip, "ping"],
                **(healthcheck or {"interval": "5s"}),
            }
        elif "prometheus" in str(svc.get("image", "")):
            entry["command"] = [*command, f"--web.listen-address={ip}:9090"]
        out[name] = entry
    return {**{k: v for k, v in config.items() if k != "networks"}, "services": out}


def _hosts(raw: Any) -> list[str]:
    """extra_hosts as `name:address` entries (`docker-compose config` writes a mapping)."""
    if isinstance(raw, dict):
        return [f"{name}:{addr}" for name, addr in raw.items()]
    return [str(h) for h in raw or []]


def _is_python(svc: dict[str, Any]) -> bool:
    command = svc.get("command") or []
    return bool(command) and command[0] == "python"


def _environment(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {k: "" if v is None else str(v) for k, v in raw.items()}
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
