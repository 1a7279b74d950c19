"""The labels feed (`fraud_reports/`) is published by the same run as the payments."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from fraud_detection.cli import main
from fraud_detection.sinks.layout import PARTITION_GLOB

from .conftest import SMALL

POP = ["--customers", str(SMALL.customers), "--merchants", str(SMALL.merchants), "--seed", "7"]
LAST = date(2025, 6, 12)
DAYS = [LAST - timedelta(days=back) for back in range(9, -1, -1)]
ROWS = 4_000


def run(dest: Path, day: date, *extra: str) -> int:
    return main(
        ["--date", day.isoformat(), "--rows", str(ROWS), "--dest", str(dest), "-q", *POP, *extra]
    )


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("feed")
    for day in DAYS:
        assert run(dest, day) == 0
    return dest


def test_each_day_publishes_its_reports_with_a_manifest(feed: Path) -> None:
    for day in DAYS:
        folder = feed / "fraud_reports" / f"year={day:%Y}/month={day:%m}/day={day:%d}"
        assert sorted(p.name for p in folder.iterdir()) == [
            "_manifest.json", "part-00000-of-00001.parquet",
        ]  # fmt: skip
        manifest = json.loads((folder / "_manifest.json").read_text())
        reports = pl.read_parquet(folder / "part-00000-of-00001.parquet")
        assert manifest["dataset"] == "fraud_reports" and manifest["complete"] is True
        assert manifest["rows"] == reports.height
        assert (reports["reported_on"] == day).all()
        assert (reports["payment_date"] < day).all()


def test_reports_point_at_payments_that_were_fraud_or_disputed(feed: Path) -> None:
    """Every report on a payment of a generated day joins that payment; most were fraud."""
    payments = pl.read_parquet(feed / PARTITION_GLOB).select("transaction_id", "is_fraud")
    reports = pl.read_parquet(feed / "fraud_reports" / PARTITION_GLOB)
    covered = reports.filter(pl.col("payment_date") >= DAYS[0])
    assert covered.height > 20
    joined = covered.join(payments, on="transaction_id", how="left")
    assert joined["is_fraud"].null_count() == 0  # no report points at a payment that never was
    # Friendly fraud (false reports on genuine payments) is a small share.
    assert 0.0 <= 1 - joined["is_fraud"].mean() < 0.2  # type: ignore[operator]


def test_payments_glob_never_reads_the_labels(feed: Path) -> None:
    frame = pl.scan_parquet(feed / PARTITION_GLOB).collect_schema()
    assert "is_fraud" in frame and "reported_on" not in frame


def test_a_sharded_day_publishes_its_reports_at_finalize(tmp_path: Path) -> None:
    day = LAST
    assert run(tmp_path, day, "--shard", "0/2") == 0
    assert run(tmp_path, day, "--shard", "1/2") == 0
    reports = tmp_path / "fraud_reports" / f"year={day:%Y}/month={day:%m}/day={day:%d}"
    assert not (reports / "_manifest.json").exists()  # slices publish nothing
    assert run(tmp_path, day, "--finalize", "--shards", "2") == 0
    assert json.loads((reports / "_manifest.json").read_text())["date"] == day.isoformat()
