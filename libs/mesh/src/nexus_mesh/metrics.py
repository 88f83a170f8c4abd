"""Prometheus metrics every stream processor exports on `/metrics` (NX_METRICS_PORT)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

PROCESSED = Counter("nx_entries_processed", "Stream entries handled and acknowledged", ["service", "stream"])
DEAD_LETTERED = Counter(
    "nx_entries_dead_lettered", "Entries sent to the dead-letter stream", ["service", "stream"]
)
HANDLER_FAILURES = Counter(
    "nx_handler_failures", "Handler exceptions (entry left pending for retry)", ["service", "stream"]
)
PUBLISHED = Counter("nx_outputs_published", "Outputs sent by the stage (duplicates included)", ["service"])
HANDLER_SECONDS = Histogram(
    "nx_handler_seconds",
    "Handler time per entry, decode to outputs, without I/O",
    ["service"],
    buckets=(5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025, 0.1, 1.0),
)
CONSUMER_LAG = Gauge(
    "nx_consumer_lag", "Entries after the group's last-delivered id (nexus_mesh.lag)", ["service", "stream"]
)
PENDING = Gauge(
    "nx_consumer_pending", "Entries delivered but not acknowledged in the group", ["service", "stream"]
)
REDIS_UP = Gauge("nx_redis_up", "1 while the service reaches Redis", ["service"])
GROUPS_RECREATED = Counter(
    "nx_groups_recreated", "Consumer groups recreated after NOGROUP (data-loss alarm)", ["service", "stream"]
)
DATA_LOSS = Counter(
    "nx_data_loss",
    "Streams found behind what this consumer had read after a reconnect (a failover lost writes)",
    ["service", "stream"],
)
REPLICATION_SHORT = Counter(
    "nx_replication_short",
    "Commits that NX_WAIT_REPLICAS replicas had not acknowledged within NX_WAIT_TIMEOUT_MS",
    ["service"],
)
VENUE_CONNECTED = Gauge("nx_venue_connected", "1 while the adapter's platform link is up", ["venue"])
# Trading outcomes, for the alert rules (deploy/prometheus/rules): observed once per signal by the fills
# aggregator when its execution becomes final, and by the router for the session day's P&L.
END_TO_END_SECONDS = Histogram(
    "nx_end_to_end_seconds",
    "Signal origin time (ts) to its final execution, observed by the fills aggregator",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
EXECUTIONS_FINAL = Counter(
    "nx_executions_final", "Signals whose execution became final, by status", ["status"]
)
LEGS_FINAL = Counter(
    "nx_legs_final", "Legs that reached a venue and ended, by venue and final status", ["venue", "status"]
)
EVENTS = Counter(
    "nx_events", "Events a service raised, by kind and severity", ["service", "kind", "severity"]
)
DAILY_PNL_USD = Gauge(
    "nx_daily_pnl_usd", "Realized P&L in USD of the current session day (router's risk state)"
)
DAILY_LOSS_LIMIT_USD = Gauge(
    "nx_daily_loss_limit_usd", "The router's max daily loss in USD (a positive number)"
)


def serve(port: int | None, host: str = "0.0.0.0") -> int | None:
    """Start the /metrics endpoint on `host`; port 0 picks a free one. Returns the port, or None when off."""
    if port is None:
        return None
    server, _thread = start_http_server(port, addr=host)
    return int(server.server_port)
