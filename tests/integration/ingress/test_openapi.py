"""The OpenAPI spec the ingress serves, tested with schemathesis against the running process: every
operation, with data the spec allows (positive) and data it forbids (negative); no server error,
every status code and header documented, every body as the spec says, forbidden data refused.

Not checked: that every schema-valid request is accepted (schemathesis's positive_data_acceptance).
By design the ingress refuses with 422 what is valid JSON but cannot be traded: a symbol the registry
does not know, a venue that does not trade the root, a limit order without its price, a reused key.
(schemathesis's pytest plugin needs an older pytest, so its strategies run under Hypothesis here.)
"""

from __future__ import annotations

from pathlib import Path

import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from nexus_protocol import Names
from nexus_testing import Services
from nexus_testing.ingress import bridge_alive, start_ingress, token_for

FAST = "defaults: {rate_per_s: 10000, burst: 10000, default_confidence: 1.0}\n"
EXAMPLES = 40


def test_the_ingress_keeps_its_spec(
    services: Services, client: redis.Redis, names: Names, tmp_path: Path
) -> None:
    (tmp_path / "ingress.yaml").write_text(FAST)
    bridge_alive(client, names)
    ing = start_ingress(services, NX_INGRESS_CONFIG_FILE=str(tmp_path / "ingress.yaml"))
    schema = schemathesis.openapi.from_url(f"{ing.url}/openapi.json")
    auth = {"Authorization": f"Bearer {token_for('algo')}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == {
        "POST /signals",
        "POST /webhooks/tradingview",
        "GET /signals/{signal_id}",
        "GET /health",
    }
    for op in operations:
        modes = [GenerationMode.POSITIVE]
        if op.label != "GET /health":  # nothing in it to get wrong
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(
                    base_url=ing.url, headers=auth, excluded_checks=[positive_data_acceptance]
                )

            check()
