"""`make bench`: throughput, peak memory, and the ratio against a row-by-row baseline.

Figures are for people to compare between commits on the same machine; nothing
here asserts a speed (tests assert behaviour).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench import baseline_row_by_row
from fraud_detection.pipeline import RunOptions, generate_slice
from fraud_detection.simulator.dataset import DaySpec, population_for

DAY = date(2025, 6, 12)


def run_job(rows: int, dest: Path) -> tuple[float, float]:
    """The whole CLI process to a local folder: (wall seconds, peak RSS in MB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fraud_detection", "--date", DAY.isoformat(), "--rows", str(rows),
         "--dest", str(dest), "--quiet"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"bench: the job failed with exit code {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024


def in_process(rows: int, tmp: Path) -> float:
    """Generate + validate + write zstd Parquet, population already built: seconds."""
    spec = DaySpec(DAY, rows)
    population_for(spec.seed, spec.population)
    started = time.perf_counter()
    generate_slice(RunOptions(spec), tmp / "vectorised.parquet")
    return time.perf_counter() - started


def baseline(rows: int, tmp: Path) -> float:
    """The same model and schema row by row, to zstd Parquet (world already built): seconds."""
    spec = DaySpec(DAY, rows)
    pop = population_for(spec.seed, spec.population)
    started = time.perf_counter()
    baseline_row_by_row.write(pop, DAY, rows, tmp / "baseline.parquet")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI smoke)")
    args = parser.parse_args()
    small, large, base_rows = (
        (100_000, 1_000_000, 10_000) if args.quick else (1_000_000, 10_000_000, 50_000)
    )

    with tempfile.TemporaryDirectory(prefix="daily-synthetic-bench-") as name:
        tmp = Path(name)
        rows_s = {}
        print(
            f"daily-synthetic benchmark on {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}"
        )
        print(f"{'measurement':<52} {'rows':>11} {'seconds':>8} {'rows/s':>11} {'peak RSS':>9}")

        def line(what: str, rows: int, seconds: float, rss: float | None = None) -> float:
            rate = rows / seconds
            mem = f"{rss:7.0f}MB" if rss is not None else ""
            print(f"{what:<52} {rows:>11,} {seconds:>8.2f} {rate:>11,.0f} {mem:>9}", flush=True)
            return rate

        t_small, rss_small = run_job(small, tmp / "a")
        line("whole process, CLI to local zstd Parquet", small, t_small, rss_small)
        t_large, rss_large = run_job(large, tmp / "b")
        line("whole process, CLI to local zstd Parquet", large, t_large, rss_large)
        rows_s["vectorised"] = line(
            "in-process generate+validate+write (warm world)", small, in_process(small, tmp)
        )
        rows_s["baseline"] = line(
            "row-by-row baseline (same model, one dict per row)",
            base_rows,
            baseline(base_rows, tmp),
        )

    print()
    print(
        f"throughput ratio, vectorised / row-by-row:  {rows_s['vectorised'] / rows_s['baseline']:.0f}x  (goal >= 25x)"
    )
    print(
        f"peak memory, {large:,} / {small:,} rows:      {rss_large / rss_small:.2f}x  (goal <= 2x)"
    )
    print(f"whole process for {small:,} rows:            {t_small:.2f} s  (goal ~1 s on 2 cores)")


if __name__ == "__main__":
    main()
