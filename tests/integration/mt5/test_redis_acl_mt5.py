"""The MT5 adapter as its production Redis user: `adapter-mt5-global` from the mesh's ACL
(`nexus_ops.acl`, what `nexusctl acl render` writes), over mutual TLS with its client certificate
from deploy/redis/make-certs.sh, as docker-compose.windows.yml runs it. Orders, fills, a cancel, the
kill switch, quotes and a restart's reconciliation: afterwards ACL LOG holds no denial."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from mt5_helpers import TerminalView, env, final_fill, new_order, statuses, ticks, venue_up

from nexus_mesh.embedded import RedisServer
from nexus_mesh.killswitch import KillSwitch
from nexus_mt5.simulator import SimulatorProcess
from nexus_protocol import Envelope, Names, OrderStatus, OrderType
from nexus_testing import Services, secured_redis, wait_for, xadd

USER = "adapter-mt5-global"
pytestmark = pytest.mark.tool("openssl")


@pytest.fixture
def secured(tmp_path: Path, names: Names) -> Iterator[tuple[RedisServer, str]]:
    """A redis-server with the mesh's ACL (plus an admin for the test) and TLS; the adapter's URL."""
    server, tls_port, certs = secured_redis(tmp_path, names, lambda u: f"pw-{u}", [USER])
    url = (
        f"rediss://{USER}:pw-{USER}@127.0.0.1:{tls_port}/0?ssl_ca_certs={certs}/ca.crt"
        f"&ssl_certfile={certs}/{USER}.crt&ssl_keyfile={certs}/{USER}.key"
    )
    try:
        yield server, url
    finally:
        server.stop()


def test_the_adapter_does_its_job_as_its_own_acl_user_over_tls(
    secured: tuple[RedisServer, str], names: Names, tmp_path: Path
) -> None:
    server, url = secured
    admin = redis.Redis(port=server.port, username="admin", password="admin-pw")
    admin.hset(names.contracts, mapping={"NQ": "NQH25"})  # as rollover would
    svc = Services(url, names.namespace, tmp_path)
    with SimulatorProcess("global", "--always-open") as sim:
        view = TerminalView(sim)
        try:
            adapter = svc.start("nexus_mt5", name=USER, **env("mt5-global", sim, NX_REDIS_URL=url))
            wait_for(lambda: venue_up(admin, names, "mt5-global"), timeout_s=30, what="the adapter over TLS")
            bid, _ask, _ = view.control.quote("US30")
            market = new_order("mt5-global", "NAS100", 0.2)
            limit = new_order("mt5-global", "US30", 0.1, order_type=OrderType.LIMIT, limit_price=bid - 200)
            for order in (market, limit):  # as the normalizer publishes them
                xadd(admin, names.orders("mt5-global"), Envelope.new(order, id=order.client_order_id))
            assert statuses(final_fill(admin, names, market.client_order_id)) == [
                OrderStatus.ACCEPTED,
                OrderStatus.FILLED,
            ]
            wait_for(lambda: ticks(admin, names, "mt5-global"), what="NAS100 quotes")
            adapter.sigkill()  # a restart reconciles: marker, intents, positions against the fills service's
            svc.start("nexus_mt5", name=USER, **env("mt5-global", sim, NX_REDIS_URL=url))
            wait_for(lambda: admin.get(names.state(USER, "marker")), timeout_s=20, what="the fill marker")
            KillSwitch(admin, names).set(True, reason="acl test", by="pytest")
            cancelled = final_fill(admin, names, limit.client_order_id, timeout_s=20)
            assert cancelled[-1].status is OrderStatus.CANCELLED
            assert admin.execute_command("ACL", "LOG") == []
        finally:
            svc.stop_all()
            view.close()
