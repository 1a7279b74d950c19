"""`make bench` keeps working: its quick mode measures every figure and writes a report."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "performance.md"
    subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--skip-10m", "--runs", "1", "--out", str(out)],
        cwd=ROOT, check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    report = out.read_text()
    for heading in (
        "## Machine",
        "## Measured",
        "## Derived",
        "## Sizing",
        "## Job image",
        "## How it is measured",
    ):
        assert heading in report
    bytes_per_row = re.search(r"\| bytes per row, 100,000 rows \| ([\d.]+) \|", report)
    assert bytes_per_row and 10 < float(bytes_per_row.group(1)) < 200
    ratio = re.search(
        r"\| rows/s, whole 100,000-row run / row-by-row baseline \| ([\d.]+)× \|", report
    )
    assert ratio and float(ratio.group(1)) > 0
    assert re.search(r"\| 1,000,000,000 \| 100 × 10,000,000 \| 1 vCPU / \d+ GiB \|", report)
