"""`make bench`: the job's speed and memory, measured from outside, written to docs/performance.md.

Every whole-process figure runs the `daily-synthetic` command as a child process and
times it from start to exit; peak memory is that child's maximum resident set. The
encode floor writes the run's own table again with the job's own Parquet writer
(`sinks.parquet.write_parquet`): the only part of the job the bench imports. Figures are for people to compare between commits on one
machine; nothing here asserts a speed (the tests assert behaviour).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from fraud_detection.settings import DEFAULT_ROW_GROUP_ROWS

if TYPE_CHECKING:
    import polars as pl

# polars and the writer are imported only after the child processes ran: a
# child forked from a large parent counts the parent's pages in its peak RSS.

DAY = date(2025, 6, 12)
REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "docs" / "performance.md"
ENCODE_FLOOR_CALL = (
    "fraud_detection.sinks.parquet.write_parquet([table], table.schema, path) "
    f"(zstd level 1, row groups up to {DEFAULT_ROW_GROUP_ROWS:,} rows)"
)


def encode_floor_write(frame: pl.DataFrame, path: Path) -> None:
    """The job's writer, on a table already in memory."""
    from fraud_detection.sinks.parquet import write_parquet

    write_parquet([frame], frame.schema, path)


@dataclass(frozen=True)
class Timing:
    """Wall seconds of each repetition and the largest peak RSS (MiB) seen."""

    seconds: list[float]
    peak_rss_mib: float | None = None
    cpu_seconds: list[float] | None = None  # the child's user + system time

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu_seconds) if self.cpu_seconds else None

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def cli_command() -> list[str]:
    """BENCH_CLI (`make bench`: the job-only venv's script), else the one beside this Python."""
    chosen = os.environ.get("BENCH_CLI")
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise SystemExit(f"bench: BENCH_CLI={chosen} is not an executable")
        return [chosen]
    script = shutil.which("daily-synthetic", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "fraud_detection"]


def run_process(argv: Sequence[str]) -> tuple[float, float, float]:
    """One child process from start to exit: (wall seconds, peak RSS in MiB, CPU seconds)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if code != 0:
        tail = stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise SystemExit(f"bench: {' '.join(argv)} exited with {code}: {tail[0]}")
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, usage.ru_maxrss / 1024, cpu  # Linux reports KiB


def time_process(make_argv: Callable[[int], Sequence[str]], runs: int) -> Timing:
    seconds, cpus, peak = [], [], 0.0
    for i in range(runs):
        elapsed, rss, cpu = run_process(make_argv(i))
        seconds.append(elapsed)
        cpus.append(cpu)
        peak = max(peak, rss)
    return Timing(seconds, peak, cpus)


def job_python() -> str:
    """The Python beside the job's script (BENCH_CLI's venv), else this one."""
    chosen = os.environ.get("BENCH_CLI")
    if chosen:
        python = Path(chosen).parent / "python"
        if os.access(python, os.X_OK):
            return str(python)
    return sys.executable


def generate_only(rows: int) -> list[str]:
    return [job_python(), str(REPO / "bench" / "generate_only.py"), str(rows)]


def job_run(rows: int, dest: Path) -> list[str]:
    return [*cli_command(), "--date", DAY.isoformat(), "--rows", str(rows), "--dest", str(dest),
            "--quiet"]  # fmt: skip


def parquet_files(dest: Path) -> list[Path]:
    files = sorted(dest.glob("year=*/month=*/day=*/*.parquet"))  # the readers' glob
    if not files:
        raise SystemExit(f"bench: the run wrote no Parquet file under {dest}")
    return files


def bytes_per_row(dest: Path, rows: int) -> float:
    return sum(f.stat().st_size for f in parquet_files(dest)) / rows


def read_back(dest: Path) -> pl.DataFrame:
    """The table a run wrote, in memory (the file's own columns, no partition columns)."""
    import polars as pl

    return pl.concat([pl.read_parquet(f, hive_partitioning=False) for f in parquet_files(dest)])


def encode_floor(dest: Path, rows: int, tmp: Path, runs: int) -> tuple[Timing, pl.Schema]:
    """Time writing the table a run wrote, from memory, with the job's writer settings."""
    from fraud_detection.schema import SCHEMA

    stored = read_back(dest)
    if stored.height != rows:
        raise SystemExit(f"bench: read back {stored.height:,} rows, expected {rows:,}")
    table = stored.cast(SCHEMA)  # the job's own table: coded columns are Enums
    timing = time_in_process(lambda i: encode_floor_write(table, tmp / f"floor{i}.parquet"), runs)
    return timing, stored.schema  # the baseline writes what the files hold: strings


def time_in_process(work: Callable[[int], object], runs: int) -> Timing:
    seconds, cpus = [], []
    for i in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        work(i)
        seconds.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return Timing(seconds, cpu_seconds=cpus)


def machine_facts() -> list[tuple[str, str]]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        memory = next(
            f"{int(line.split()[1]) / 2**20:.1f} GiB"
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration):
        memory = "unknown"
    revision = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty", "--abbrev=12"],
        capture_output=True, text=True, check=False,
    ).stdout.strip() or "unknown"  # fmt: skip
    return [
        ("cores", f"{os.cpu_count()} ({usable} usable by this process)"),
        ("CPU", cpu),
        ("memory", memory),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("polars", metadata.version("polars")),
        ("numpy", metadata.version("numpy")),
        ("daily-synthetic", f"{metadata.version('daily-synthetic')} (git {revision})"),
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def image_layers(image: str) -> tuple[str, list[tuple[str, str]]]:
    """The job image's total size and its non-empty layers (size, the step that made it).

    Read from the local Docker engine (`docker image inspect`, `docker history`); without an
    engine or the image, a line that says how to get it.
    """
    try:
        size = subprocess.run(
            ["docker", "image", "inspect", image, "--format", "{{.Size}}"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()  # fmt: skip
        history = subprocess.run(
            ["docker", "history", image, "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return f"`{image}` is not built here (run `make job-image`, then `make bench`).", []
    layers = []
    for line in history.splitlines():
        layer_size, _, step = line.partition("\t")
        if layer_size not in ("0B", "0"):
            step = " ".join(step.replace("|", "/").split()) or "the base image"
            layers.append((layer_size, step[:100] + ("…" if len(step) > 100 else "")))
    return f"`{image}`: {int(size) / 1e6:,.0f} MB in all.", layers


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 1) -> str:
    """`right`: columns from this index on are right-aligned (figures)."""
    align = ["---" if i < right else "---:" for i in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true",
        help="small sizes (100k / 1M rows, 10k baseline rows) to check that the bench runs; "
        "writes nothing unless --out is given",
    )  # fmt: skip
    parser.add_argument(
        "--skip-10m", action="store_true", default=os.environ.get("BENCH_SKIP_10M") == "1",
        help="leave out the 10 M-row run (also BENCH_SKIP_10M=1)",
    )  # fmt: skip
    parser.add_argument(
        "--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")),
        help="repetitions of the short measurements; the best is reported (default 3)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None,
        help=f"where to write the report (default {DEFAULT_OUT.relative_to(REPO)})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    out: Path | None = args.out or (None if args.quick else DEFAULT_OUT)
    small, large, base_rows = (
        (100_000, 1_000_000, 10_000) if args.quick else (1_000_000, 10_000_000, 50_000)
    )
    runs = max(1, args.runs)
    big_runs = max(1, min(runs, 2))

    facts = machine_facts()
    load_before = load_average()
    print(f"daily-synthetic bench: {' '.join(cli_command())}", flush=True)
    for key, value in facts:
        print(f"  {key}: {value}")
    print(f"  load average (1/5/15 min) before: {load_before}", flush=True)

    with tempfile.TemporaryDirectory(prefix="daily-synthetic-bench-") as name:
        tmp = Path(name)

        def step(what: str) -> None:
            print(f"  … {what}", file=sys.stderr, flush=True)

        step(f"--help x{runs}")
        help_t = time_process(lambda i: [*cli_command(), "--help"], runs)
        step(f"1,000 rows x{runs}")
        tiny_t = time_process(lambda i: job_run(1_000, tmp / f"tiny{i}"), runs)
        step(f"{small:,} rows x{big_runs}")
        small_t = time_process(lambda i: job_run(small, tmp / f"small{i}"), big_runs)
        small_bpr = bytes_per_row(tmp / "small0", small)
        step(f"{small:,} rows, generate + check only x{big_runs}")
        gen_t = time_process(lambda i: generate_only(small), big_runs)
        large_t: Timing | None = None
        large_bpr: float | None = None
        if not args.skip_10m:
            step(f"{large:,} rows x1")
            large_t = time_process(lambda i: job_run(large, tmp / "large"), 1)
            large_bpr = bytes_per_row(tmp / "large", large)
            shutil.rmtree(tmp / "large")

        step(f"encode floor x{runs}")
        floor_t, schema = encode_floor(tmp / "small0", small, tmp, runs)

        step(f"row-by-row baseline, {base_rows:,} rows")
        from bench import baseline_row_by_row

        world = baseline_row_by_row.build_world(400_000, 40_000, seed=42)
        base_t = time_in_process(
            lambda i: baseline_row_by_row.write(
                world, schema, DAY, base_rows, tmp / "baseline.parquet", encode_floor_write
            ),
            1,
        )
        generic = baseline_row_by_row.generic_columns(schema)
    load_after = load_average()

    def secs(t: Timing) -> tuple[str, str, str, str]:
        cpu = t.cpu_median
        return (str(len(t.seconds)), f"{t.best:.2f}", f"{t.median:.2f}",
                "–" if cpu is None else f"{cpu:.2f}")  # fmt: skip

    def mib(t: Timing) -> str:
        return f"{t.peak_rss_mib:,.0f}" if t.peak_rss_mib is not None else "–"

    small_rate = small / small_t.best
    base_rate = base_rows / base_t.best
    measured = [
        ["`daily-synthetic --help`", "–", *secs(help_t), "–", mib(help_t)],
        ["1,000-row local run", "1,000", *secs(tiny_t), "–", mib(tiny_t)],
        [f"{small:,}-row local run (zstd)", f"{small:,}", *secs(small_t), f"{small_rate:,.0f}",
         mib(small_t)],
    ]  # fmt: skip
    if large_t is not None:
        measured.append(
            [f"{large:,}-row local run (zstd)", f"{large:,}", *secs(large_t),
             f"{large / large_t.best:,.0f}", mib(large_t)]
        )  # fmt: skip
    measured += [
        ["generate + check only, no Parquet (`bench/generate_only.py`)", f"{small:,}",
         *secs(gen_t), f"{small / gen_t.best:,.0f}", mib(gen_t)],
        [f"encode floor: write the {small:,}-row table from memory", f"{small:,}", *secs(floor_t),
         f"{small / floor_t.best:,.0f}", "–"],
        ["row-by-row baseline: generate + write (world built, not timed)", f"{base_rows:,}",
         *secs(base_t), f"{base_rate:,.0f}", "–"],
    ]  # fmt: skip
    derived = [
        [f"bytes per row, {small:,} rows", f"{small_bpr:.1f}"],
        [
            f"whole run / encode floor, {small:,} rows (best / best)",
            f"{small_t.best / floor_t.best:.2f}×",
        ],
        [
            f"whole run / encode floor, {small:,} rows (median / median)",
            f"{small_t.median / floor_t.median:.2f}×",
        ],
        [
            f"Parquet, upload and commit: whole run less generate + check, {small:,} rows (best)",
            f"{small_t.best - gen_t.best:.2f} s",
        ],
        [
            f"rows/s, whole {small:,}-row run / row-by-row baseline",
            f"{small_rate / base_rate:.1f}×",
        ],
    ]
    if large_t is not None and large_bpr is not None:
        large_rss, small_rss = large_t.peak_rss_mib or 0.0, small_t.peak_rss_mib or 1.0
        derived += [
            [f"bytes per row, {large:,} rows", f"{large_bpr:.1f}"],
            [f"rows/s, whole {large:,}-row run / row-by-row baseline",
             f"{large / large_t.best / base_rate:.1f}×"],
            [f"peak RSS, {large:,} / {small:,} rows", f"{large_rss / small_rss:.2f}×"],
        ]  # fmt: skip

    from bench import sizing

    biggest_rows, biggest_t, biggest_bpr = (
        (large, large_t, large_bpr)
        if large_t is not None and large_bpr is not None
        else (small, small_t, small_bpr)
    )
    cpu = biggest_t.cpu_median if biggest_t.cpu_median is not None else biggest_t.best
    fleet = sizing.Measured(biggest_rows, cpu, biggest_t.peak_rss_mib or 0.0, biggest_bpr)

    image_summary, image_rows = image_layers(os.environ.get("JOB_IMAGE", "daily-synthetic-job:dev"))
    report = "\n".join(
        [
            "# Performance",
            "",
            "Generated by `make bench` (`python -m bench.run`); do not edit by hand, re-run it. "
            "Compare figures only between runs on the same machine.",
            "",
            "## Machine",
            "",
            markdown_table(
                ["fact", "value"],
                [
                    *facts,
                    ("load average (1/5/15 min), before / after", f"{load_before} → {load_after}"),
                ],
                right=2,
            ),
            "",
            "## Measured",
            "",
            markdown_table(
                [
                    "measurement",
                    "rows",
                    "runs",
                    "best s",
                    "median s",
                    "median CPU s",
                    "rows/s (best)",
                    "peak RSS MiB",
                ],
                measured,
            ),
            "",
            "## Derived",
            "",
            markdown_table(["figure", "value"], derived),
            "",
            "## Sizing large days on Fargate (an estimate from this run)",
            "",
            sizing.assumptions(fleet),
            "",
            markdown_table(sizing.HEADERS, sizing.table_rows(fleet)),
            "",
            "## Job image",
            "",
            image_summary,
            "",
            *(
                [markdown_table(["layer size", "made by"], image_rows, right=2), ""]
                if image_rows
                else []
            ),
            "## How it is measured",
            "",
            f"- Whole-process figures run `{' '.join(Path(a).name for a in cli_command())}` "
            "as a child process, from start to exit, writing to a local temporary folder with "
            "the default zstd codec; peak RSS is the child's own maximum resident set "
            "(`wait4`). The 1,000-row run is the start-up cost: imports, populations, one "
            "tiny file. CPU is the child's user + system time: on a shared machine it moves "
            "less than the wall time does. `make bench` runs the job from `.venv-job`, which "
            "holds only the job's runtime dependencies, as its image does (the dev venv also "
            "holds Airflow, whose SQLAlchemy dataframely would import at start-up).",
            "- Generate + check only (`bench/generate_only.py`): the same imports, blocks and "
            "per-block checks as the run, in the job's Python, writing nothing; the whole run "
            "less this is what the Parquet file, its staging and the commit add.",
            f"- Encode floor: the {small:,}-row Parquet written by the run is read back into "
            "memory, with its coded columns cast back to the job's Enums, and written again with the job's own writer, "
            f"`{ENCODE_FLOOR_CALL}`. No generation, no checks: the least a run could take to "
            "write that table.",
            "- Row-by-row baseline (`bench/baseline_row_by_row.py`): one Python dict per "
            "payment, values from `random`, merchant name and city from mimesis per row, "
            "then the same writer as the encode floor. Its world is built first and not timed; it has "
            "its own small model and the output file's columns and types"
            + (
                f"; columns it fills with plain random values: {', '.join(generic)}."
                if generic
                else "."
            )
            + " The job's rows/s above include its whole start-up; the baseline's do not.",
            f"- Best of {runs} for the short measurements, of {big_runs} for the "
            f"{small:,}-row run, one {large:,}-row run"
            + (" (left out this time)." if large_t is None else ".")
            + " The machine's load average is in the header: a busy machine makes every "
            "figure slower.",
            "- Re-run with `make bench`; `BENCH_SKIP_10M=1` leaves out the largest run and "
            "`BENCH_RUNS=N` sets the repetitions. `python -m bench.run --quick` checks that the "
            "bench works in seconds and writes nothing.",
            "",
        ]
    )
    print()
    print(report)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
        print(f"bench: wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
