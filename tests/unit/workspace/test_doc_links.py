"""Every reference in the repository resolves: a relative Markdown link names a file that exists, a
document cited in code, config or docs exists, and nothing cites texts
that live outside the repository (the design is docs/design.md, the style guide docs/style.md).
docs/reference/ quotes outside sources and is left out."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LINK = re.compile(r"\]\(([^)\s]+)\)")
CITED = re.compile(r"(?<![\w/.-])((?:docs/)?reference/\w[\w.-]*\.md|docs/\w[\w./-]*\.md)")
OUTSIDE = re.compile(r"(?<![\w/.-])(STYLE\.md|DESIGN\.md)")


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / f for f in out.stdout.split() if not f.startswith("docs/reference/")]


def test_every_relative_markdown_link_resolves() -> None:
    broken = [
        f"{path.relative_to(ROOT)}: {target}"
        for path in tracked("*.md")
        for target in LINK.findall(path.read_text())
        if not target.startswith(("http://", "https://", "mailto:", "#"))
        and not (path.parent / target.split("#", 1)[0]).exists()
    ]
    assert not broken, "\n".join(broken)


def test_every_cited_document_is_in_the_repository() -> None:
    missing, outside = [], []
    for path in tracked("*.md", "*.py", "*.cs", "*.conf", "*.yml", "*.yaml", "*.toml", "Dockerfile"):
        text = path.read_text(errors="replace")
        for ref in CITED.findall(text):
            where = ROOT / ref if ref.startswith("docs/") else ROOT / "docs" / ref
            if not where.exists():
                missing.append(f"{path.relative_to(ROOT)}: {ref}")
        outside += [f"{path.relative_to(ROOT)}: {m}" for m in OUTSIDE.findall(text)]
    assert not missing, "\n".join(missing)
    assert not outside, "cite docs/design.md or docs/style.md instead:\n" + "\n".join(outside)
