"""Writes contracts/<dataset>.odcs.yaml (`make contracts`); --check only compares.

A development tool: PyYAML comes with the dev venv, not with the job image.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fraud_detection.contracts.odcs import contracts

HEADER = "# Generated from job/fraud_detection/schema.py by `make contracts`: do not edit.\n"
SUFFIX = ".odcs.yaml"


def render(contract: dict[str, Any]) -> str:
    import yaml  # type: ignore[import-untyped]

    return HEADER + yaml.safe_dump(contract, sort_keys=False, allow_unicode=True, width=100)


def rendered() -> dict[str, str]:
    """File name -> text, for every dataset's contract."""
    return {f"{name}{SUFFIX}": render(contract) for name, contract in contracts().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fraud_detection.contracts")
    parser.add_argument("folder", nargs="?", default="contracts", type=Path)
    parser.add_argument("--check", action="store_true", help="fail when a file differs")
    args = parser.parse_args(argv)
    stale = []
    for name, text in rendered().items():
        path = args.folder / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if stale:
        sys.stderr.write(f"contracts: {', '.join(stale)} out of date; run `make contracts`\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
