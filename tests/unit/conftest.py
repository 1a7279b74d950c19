from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from fraud_detection.simulator import DaySpec, PopulationSizes, generate_dataset

SMALL = PopulationSizes(customers=20_000, merchants=2_000)
DAY = date(2025, 6, 12)  # a Thursday


def small_day(day: date = DAY, rows: int = 20_000, seed: int = 7, **kw: object) -> pl.DataFrame:
    return generate_dataset(day, rows, seed=seed, population=SMALL, **kw).collect()  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def day_frame() -> pl.DataFrame:
    return small_day(rows=50_000)


@pytest.fixture
def small_spec() -> DaySpec:
    return DaySpec(DAY, 20_000, seed=7, population=SMALL)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR and the working directory in the test's own empty folder, so that
    `assert_usage_error` can check a refused run wrote nothing, not even a temp dir."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path
