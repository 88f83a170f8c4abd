"""Settings every service shares: a bad NX_ value is one line naming the variable."""

from __future__ import annotations

import pytest

from nexus_mesh.settings import MeshSettings, load_settings
from nexus_protocol.errors import ConfigError


@pytest.mark.parametrize("given", ["debug", "INFO", "Warning", "error", "CRITICAL"])
def test_a_log_level_is_one_of_the_five_in_any_case(given: str) -> None:
    assert load_settings(MeshSettings, log_level=given).log_level == given.upper()


@pytest.mark.parametrize(
    ("field", "value", "line"),
    [
        ("log_level", "LOUD", "NX_LOG_LEVEL='LOUD': must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("max_deliveries", "abc", "NX_MAX_DELIVERIES='abc': Input should be a valid integer"),
        ("max_deliveries", "0", "NX_MAX_DELIVERIES='0': Input should be greater than or equal to 1"),
        ("redis_url", "http://x", "NX_REDIS_URL=<redacted>: must start with redis://"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(field: str, value: str, line: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(MeshSettings, **{field: value})
    assert "\n" not in str(err.value) and line in str(err.value)
