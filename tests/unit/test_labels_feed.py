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
    """Payments into dest/raw, the labels feed into dest/fraud_reports (its own root)."""
    return main(
        [
            "--date", day.isoformat(), "--rows", str(ROWS), "--dest", str(dest / "raw"),
            "--labels-dest", str(dest / "fraud_reports"), "-q", *POP, *extra,
        ]
    )  # fmt: skip


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("feed")
    for day in DAYS:
        assert run(dest, day) == 0
    return dest


def _manifest(root: Path, day: date) -> Path:
    return root / "_manifests" / f"{day.isoformat()}.json"


def test_each_day_publishes_its_reports_with_a_manifest(feed: Path) -> None:
    for day in DAYS:
        folder = feed / "fraud_reports" / f"year={day.year}/month={day.month}/day={day.day}"
        (part,) = folder.iterdir()  # nothing but the day's one part
        manifest = json.loads(_manifest(feed / "fraud_reports", day).read_text())
        reports = pl.read_parquet(part)
        assert manifest["dataset"] == "fraud_reports" and manifest["complete"] is True
        assert manifest["keys"] == [str(part.relative_to(feed / "fraud_reports"))]
        assert manifest["table_format"] == "delta" and manifest["table_version"] == DAYS.index(day)
        assert manifest["rows"] == reports.height
        assert (reports["reported_on"] == day).all()
        assert (reports["payment_date"] < day).all()


def test_reports_point_at_payments_that_were_fraud_or_disputed(feed: Path) -> None:
    """Every report on a payment of a generated day joins that payment; most were fraud."""
    payments = pl.read_parquet(feed / "raw" / PARTITION_GLOB).select("transaction_id", "is_fraud")
    reports = pl.read_parquet(feed / "fraud_reports" / PARTITION_GLOB)
    covered = reports.filter(pl.col("payment_date") >= DAYS[0])
    assert covered.height > 20
    joined = covered.join(payments, on="transaction_id", how="left")
    assert joined["is_fraud"].null_count() == 0  # no report points at a payment that never was
    # Friendly fraud (false reports on genuine payments) is a small share.
    assert 0.0 <= 1 - joined["is_fraud"].mean() < 0.2  # type: ignore[operator]


def test_the_payments_root_holds_payments_only(feed: Path) -> None:
    """Readers may glob the payments' root with **: only payments are there."""
    files = sorted((feed / "raw").rglob("*.parquet"))
    assert len(files) == len(DAYS)
    assert all("reported_on" not in pl.read_parquet_schema(f) for f in files)
    manifest = json.loads(_manifest(feed / "raw", DAYS[0]).read_text())
    assert manifest["labels_root"] == f"file://{(feed / 'fraud_reports').resolve()}"


def test_without_a_labels_destination_only_payments_are_published(tmp_path: Path) -> None:
    code = main(
        ["--date", LAST.isoformat(), "--rows", str(ROWS), "--dest", str(tmp_path), "-q", *POP]
    )
    assert code == 0
    assert [p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*.parquet")] == ["year=2025"]
    assert json.loads(_manifest(tmp_path, LAST).read_text())["labels_root"] is None


@pytest.mark.parametrize("inside", ["fraud_reports", ""])
def test_a_labels_destination_overlapping_the_payments_is_refused(
    tmp_path: Path, inside: str, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / inside if inside else tmp_path
    args = ["--date", LAST.isoformat(), "--rows", str(ROWS), "--dest", str(tmp_path), *POP]
    assert main([*args, "--labels-dest", str(labels)]) == 2
    err = capsys.readouterr().err
    assert "overlaps the payments' destination" in err and "Traceback" not in err
    assert list(tmp_path.rglob("*.parquet")) == []


def test_a_sharded_day_publishes_its_reports_at_finalize(tmp_path: Path) -> None:
    day = LAST
    assert run(tmp_path, day, "--shard", "0/2") == 0
    assert run(tmp_path, day, "--shard", "1/2") == 0
    reports = _manifest(tmp_path / "fraud_reports", day)
    assert not reports.exists()  # slices publish nothing
    assert run(tmp_path, day, "--finalize", "--shards", "2") == 0
    assert json.loads(reports.read_text())["date"] == day.isoformat()
