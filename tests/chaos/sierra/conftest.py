"""The Sierra chaos tests share the process helpers of tests/integration/sierra."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "integration" / "sierra"))
