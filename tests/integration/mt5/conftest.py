from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # mt5_helpers, shared with the MT5 e2e and chaos tests
