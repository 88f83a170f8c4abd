"""The storm and the soak share their harness (storm_harness.py, soak_probe.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
