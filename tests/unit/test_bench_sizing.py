"""The bench's Fargate sizing arithmetic (the figures themselves come from `make bench`)."""

from __future__ import annotations

import pytest
from bench import sizing

RUN = sizing.Measured(rows=10_000_000, cpu_seconds=20.0, peak_rss_mib=800.0, bytes_per_row=40.0)


def test_a_day_is_cut_into_whole_slices() -> None:
    assert sizing.plan_day(100_000_000, RUN).slices == 10
    assert sizing.plan_day(100_000_001, RUN).slices == 11
    assert sizing.plan_day(1_000, RUN).slices == 1


def test_a_slice_costs_its_start_its_work_and_its_upload() -> None:
    plan = sizing.plan_day(100_000_000, RUN)
    upload = 10_000_000 * 40.0 / 1e6 / sizing.UPLOAD_MB_S
    assert plan.seconds_per_slice == pytest.approx(sizing.TASK_START_S + 20.0 + upload)
    assert plan.vcpu_hours == pytest.approx(10 * plan.seconds_per_slice / 3600)


def test_cost_grows_with_the_day() -> None:
    small, large = sizing.plan_day(100_000_000, RUN), sizing.plan_day(1_000_000_000, RUN)
    assert large.usd == pytest.approx(10 * small.usd)
    assert small.usd > 0


def test_memory_is_the_smallest_fargate_size_over_the_peak_with_headroom() -> None:
    assert sizing.memory_gib(800.0) == 2  # 1.2 GiB needed
    assert sizing.memory_gib(1_500.0) == 3  # 2.2 GiB needed
    with pytest.raises(ValueError, match="more than 1 vCPU offers"):
        sizing.memory_gib(8_000.0)
