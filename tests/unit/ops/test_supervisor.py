"""What `nexusctl up` gives each service (compose < the operator's NX_* < what up decides) and which
line of a failed service's log it shows."""

from __future__ import annotations

from nexus_ops.supervisor import ComposeService, first_error_line, service_env

SVC = ComposeService(
    "venue-nt8",
    "nexus_gateway.sim_venue",
    {"NX_VENUE": "nt8", "NX_SERVICE": "adapter-nt8", "NX_LOG_LEVEL": "INFO", "NX_LOG_JSON": "true",
     "NX_METRICS_PORT": "9100", "NX_SIM_MD_INTERVAL_S": "0.5"},
)  # fmt: skip


def test_the_operator_s_nx_variables_reach_the_service_over_compose_s() -> None:
    operator = {"PATH": "/bin", "NX_LOG_LEVEL": "DEBUG", "NX_MAX_DELIVERIES": "7", "NX_CONFIG_DIR": "/cfg"}
    env = service_env(SVC, operator, {"NX_NAMESPACE": "ns", "NX_CONFIG_DIR": "/cfg"})
    assert env["PATH"] == "/bin"
    assert (
        env["NX_LOG_LEVEL"] == "DEBUG" and env["NX_MAX_DELIVERIES"] == "7" and env["NX_CONFIG_DIR"] == "/cfg"
    )
    assert env["NX_SIM_MD_INTERVAL_S"] == "0.5" and env["NX_NAMESPACE"] == "ns"


def test_what_identifies_one_service_and_what_up_decides_are_never_the_operator_s() -> None:
    operator = {"NX_VENUE": "nope", "NX_SERVICE": "x", "NX_METRICS_PORT": "1", "NX_NAMESPACE": "mine"}
    env = service_env(SVC, operator, {"NX_NAMESPACE": "decided", "NX_CONSUMER": "venue-nt8"})
    assert env["NX_VENUE"] == "nt8" and env["NX_SERVICE"] == "adapter-nt8"
    assert env["NX_NAMESPACE"] == "decided" and env["NX_CONSUMER"] == "venue-nt8"
    assert "NX_METRICS_PORT" not in env and "NX_LOG_JSON" not in env  # only containers use compose's


def test_the_first_error_line_is_the_configuration_error_or_error_record() -> None:
    log = (
        "2026-01-01 INFO router[router] nexus_mesh.runner: started\n"
        "router: configuration error: risk.yaml: per_symbol: unknown root 'FOO'\n"
        "2026-01-01 ERROR router[router] x: later trouble\n"
    )
    assert first_error_line(log) == "router: configuration error: risk.yaml: per_symbol: unknown root 'FOO'"
    assert (
        first_error_line('{"levelname": "ERROR", "message": "boom"}\n')
        == '{"levelname": "ERROR", "message": "boom"}'
    )


def test_a_traceback_gives_the_exception_it_ends_in_and_silence_says_so() -> None:
    log = (
        "2026-01-01 INFO fx[fx] nexus_mesh.runner: started\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "    raise KeyError('WDO')\n"
        "KeyError: 'WDO'\n"
    )
    assert first_error_line(log) == "KeyError: 'WDO'"
    assert first_error_line("only a line\n\n") == "only a line"
    assert first_error_line("") == "(nothing in its log)"
