"""Run by test_tool_marker.py only (the name keeps pytest from collecting it): a test needing a tool
that no machine has."""

import pytest


@pytest.mark.tool("nexus-no-such-command", apt="nexus-no-such-package")
def test_needs_a_missing_tool() -> None:
    pass
