"""The path streams partitioned by symbol group (symbols.yaml `partitions:`, nexus_protocol.partitions):
NQ in the `index` group, US30 in none. Signals of both, through two normalizers and two fills
instances while gateway processes are SIGKILLed: every signal one final execution, every order once at
its venue, and each leg's order, reports and route on its own group's streams, in a slot apart from
the default partition's. tests/chaos/test_partitions_cluster.py runs it on the 3-primary cluster."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
import yaml
from mesh import Mesh
from redis.crc import key_slot
from test_gateway_kill import patient_config

from nexus_protocol import Names, OrderStatus
from nexus_protocol.messages import Execution, Fill, Order, Route, VenueOrder
from nexus_protocol.partitions import PARTITIONED
from nexus_testing import Services, read_stream, wait_for

VENUES = ("nt8", "mt5-global")
GROUPS = {"index": ["NQ", "ES", "MNQ", "MES"]}


def partitioned_config(tmp_path: Path) -> str:
    cfg = Path(patient_config(tmp_path))
    symbols = yaml.safe_load((cfg / "symbols.yaml").read_text())
    symbols["partitions"] = GROUPS
    (cfg / "symbols.yaml").write_text(yaml.safe_dump(symbols))
    return str(cfg)


def bodies(client: redis.Redis, stream: str) -> list[object]:
    return [e.body for e in read_stream(client, stream)]


@pytest.mark.slow
@pytest.mark.chaos
def test_partitioned_streams_carry_each_groups_legs_exactly_once_under_kills(
    client: redis.Redis, names: Names, services: Services, tmp_path: Path
) -> None:
    mesh = Mesh(
        services,
        client,
        names,
        "sim",
        VENUES,
        NX_CLAIM_IDLE_MS="1000",
        NX_CONFIG_DIR=partitioned_config(tmp_path),
    ).start()
    victims = ["router", *mesh.scale("normalizer", 2), "fx", *mesh.scale("fills", 2)]
    sent: dict[str, str] = {}  # signal id -> symbol
    for i in range(24):
        symbol, venues = ("NQ", VENUES) if i % 2 == 0 else ("US30", ("mt5-global",))
        side = "buy" if i % 4 < 2 else "sell"
        sent[mesh.signal(symbol, side, 1, venues=venues)] = symbol
        if i % 4 == 3:
            mesh.procs[victims[(i // 4) % len(victims)]].restart()
        time.sleep(0.08)  # under the router's 20 signals a second
    wait_for(
        lambda: all(mesh.executions(s) and mesh.executions(s)[-1].final for s in sent),
        timeout_s=90,
        what="every signal to finish",
    )

    finals: dict[str, list[Execution]] = {}
    for ex in bodies(client, names.executions):
        if isinstance(ex, Execution) and ex.final:
            finals.setdefault(ex.signal_id, []).append(ex)
    assert {s: len(f) for s, f in finals.items() if s in sent} == dict.fromkeys(sent, 1)
    not_filled = [
        (sent[s], f[0].status.value, f[0].reason)
        for s, f in finals.items()
        if s in sent and f[0].status is not OrderStatus.FILLED
    ]
    assert not not_filled, not_filled
    for venue in VENUES:
        coids = [o.client_order_id for o in bodies(client, names.orders(venue)) if isinstance(o, VenueOrder)]
        assert len(coids) == len(set(coids)), f"{venue}: an order sent twice"

    def symbols_on(logical: str) -> set[str]:
        out = set()
        for body in bodies(client, names.stream(logical)):
            if isinstance(body, Order | Route):
                out.add(body.symbol)
            elif isinstance(body, Fill):
                out.add(sent.get(body.signal_id, "?"))
        return out

    for base in PARTITIONED:
        assert symbols_on(f"{base}:index") == {"NQ"}, base
        assert symbols_on(base) == {"US30"}, base
        assert key_slot(names.stream(f"{base}:index").encode()) != key_slot(names.stream(base).encode())
