"""The docs name Redis keys as redis-cli shows them: `nx:{signals}`, never `nx:signals` (a key nothing
reads; an XADD to it is accepted and ignored). docs/reference/ quotes outside sources and is left out."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
UNTAGGED = re.compile(r"\bnx:(?!\{)[A-Za-z]")


def docs() -> list[Path]:
    tracked = subprocess.run(
        ["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / f for f in tracked if not f.startswith("docs/reference/")]


def test_every_key_a_doc_names_carries_its_hash_tag() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in docs()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if UNTAGGED.search(line)
    ]
    assert docs() and not found, "\n".join(found)
