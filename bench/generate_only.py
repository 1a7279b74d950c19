"""Generate and check one day's payments, write nothing: the generator's share of a run.

`make bench` runs this as a child process with the job's own Python, beside the whole
run, so the two can be compared: the difference is the Parquet file, its upload and the
table commit. Usage: python bench/generate_only.py ROWS
"""

from __future__ import annotations

import sys
from datetime import date

import fraud_detection.pipeline  # noqa: F401  (what a run imports before it generates)
from fraud_detection.simulator import DaySpec, iter_blocks
from fraud_detection.validation import SliceStats

DAY = date(2025, 6, 12)  # bench.run's day


def main(argv: list[str]) -> int:
    spec = DaySpec(DAY, int(argv[0]))
    stats = SliceStats(spec.day)
    for frame in iter_blocks(spec):
        stats.add(frame)  # the checks a run makes on every block
    if stats.totals.rows != spec.rows:
        print(f"generated {stats.totals.rows:,} rows, expected {spec.rows:,}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
