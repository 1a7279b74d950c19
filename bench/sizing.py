"""A Fargate sizing table for large days, from the bench's own largest run.

What is measured comes from the run: CPU seconds per row (user + system, the work a
vCPU must do), peak memory and bytes per row. What is assumed is named here and in the
report: the slice size, the task's start-up, the upload rate and list prices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SLICE_ROWS = 10_000_000  # rows per slice: memory stays flat in rows, so one size fits all
TASK_START_S = 60.0  # assumed: Fargate provisioning and image pull, billed
UPLOAD_MB_S = 50.0  # assumed: one task's multipart upload rate to S3 in its region
# Assumed list prices, Linux/x86 Fargate in us-east-1; other regions differ by a few percent.
VCPU_HOUR_USD = 0.04048
GB_HOUR_USD = 0.004445
# Fargate's memory steps for 1 vCPU (GiB), the smallest task that runs one slice.
FARGATE_1_VCPU_GIB = (2, 3, 4, 5, 6, 7, 8)
MEMORY_HEADROOM = 1.5  # the DAG's cap over the measured peak


@dataclass(frozen=True)
class Measured:
    rows: int
    cpu_seconds: float
    peak_rss_mib: float
    bytes_per_row: float


@dataclass(frozen=True)
class DayPlan:
    day_rows: int
    slices: int
    memory_gib: int
    seconds_per_slice: float
    vcpu_hours: float
    usd: float


def memory_gib(peak_rss_mib: float) -> int:
    need = peak_rss_mib * MEMORY_HEADROOM / 1024
    fits = [g for g in FARGATE_1_VCPU_GIB if g >= need]
    if not fits:
        raise ValueError(f"a slice peaks at {peak_rss_mib:,.0f} MiB: more than 1 vCPU offers")
    return fits[0]


def plan_day(day_rows: int, m: Measured, slice_rows: int = SLICE_ROWS) -> DayPlan:
    """Slices of `slice_rows`, each a 1-vCPU task: its CPU work, its upload and its start."""
    slices = math.ceil(day_rows / slice_rows)
    rows = min(slice_rows, day_rows)
    gib = memory_gib(m.peak_rss_mib)
    compute = m.cpu_seconds / m.rows * rows
    upload = rows * m.bytes_per_row / 1e6 / UPLOAD_MB_S
    seconds = TASK_START_S + compute + upload
    vcpu_hours = slices * seconds / 3600
    usd = vcpu_hours * VCPU_HOUR_USD + vcpu_hours * gib * 1.073741824 * GB_HOUR_USD
    return DayPlan(day_rows, slices, gib, seconds, vcpu_hours, usd)


def table_rows(
    m: Measured, days: tuple[int, ...] = (100_000_000, 1_000_000_000)
) -> list[list[str]]:
    rows = []
    for day in days:
        p = plan_day(day, m)
        rows.append(
            [f"{day:,}", f"{p.slices:,} × {min(SLICE_ROWS, day):,}", f"1 vCPU / {p.memory_gib} GiB",
             f"{p.seconds_per_slice:,.0f}", f"{p.vcpu_hours:,.2f}", f"{p.usd:,.3f}"]
        )  # fmt: skip
    return rows


HEADERS = [
    "rows a day",
    "slices × rows",
    "task size",
    "billed s per slice",
    "vCPU-hours a day",
    "USD a day (compute)",
]


def assumptions(m: Measured) -> str:
    return (
        f"From the {m.rows:,}-row run: {m.cpu_seconds / m.rows * 1e6:.2f} CPU µs per row, "
        f"{m.peak_rss_mib:,.0f} MiB peak, {m.bytes_per_row:.1f} bytes per row. Assumed: "
        f"{SLICE_ROWS:,}-row slices on 1-vCPU tasks (peak × {MEMORY_HEADROOM} rounded up to a "
        f"Fargate size), {TASK_START_S:.0f} s of task start-up, {UPLOAD_MB_S:.0f} MB/s to S3, "
        f"${VCPU_HOUR_USD} per vCPU-hour and ${GB_HOUR_USD} per GB-hour (Linux/x86, "
        "us-east-1 list prices). S3 requests and storage are not included. An estimate for "
        "planning; measure on the target platform."
    )
