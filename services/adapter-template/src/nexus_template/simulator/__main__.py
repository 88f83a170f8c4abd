"""`python -m nexus_template.simulator --port 9100`: serve a simulated Template platform."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9100)
    ap.parse_args(argv)
    raise NotImplementedError(
        "the Template simulator is a template: serve the platform's wire over nexus_sim"
    )


if __name__ == "__main__":
    raise SystemExit(main())
