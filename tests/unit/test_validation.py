"""The data checks catch bad frames, and a failed check publishes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from fraud_detection import pipeline
from fraud_detection.errors import ValidationFailed
from fraud_detection.simulator import DaySpec
from fraud_detection.sinks.local import LocalDestination
from fraud_detection.validation import Totals, check_totals, fraud_band, validate_block

from .conftest import DAY


@pytest.fixture(scope="module")
def good(day_frame: pl.DataFrame) -> pl.DataFrame:
    return day_frame.head(2_000)


def test_good_block_passes(good: pl.DataFrame) -> None:
    assert validate_block(good, DAY) is good


BREAKAGES = {
    "amount|min": lambda df: df.with_columns(pl.lit(0, pl.Int64).alias("amount")),
    "time window": lambda df: df.with_columns(pl.col("event_timestamp") + timedelta(days=1)),
    "scenario_set_exactly_when_fraud": lambda df: df.with_columns(pl.lit(True).alias("is_fraud")),
    # A coded column is an Enum: an unknown code can only come as another type.
    "schema: unknown code": lambda df: df.with_columns(pl.lit("telepathy").alias("channel")),
    "mcc_is_four_digits": lambda df: df.with_columns(pl.lit("abcd").alias("mcc")),
    "ids_carry_their_prefix": lambda df: df.with_columns(pl.col("card_id").str.replace("^K", "X")),
    "nullability": lambda df: df.with_columns(pl.lit(None, pl.String).alias("merchant_name")),
    "latitude|max": lambda df: df.with_columns(
        pl.lit(91.0).cast(df.schema["latitude"]).alias("latitude")
    ),
    "schema: dtype": lambda df: df.with_columns(pl.col("amount").cast(pl.Float64)),
    "schema: missing": lambda df: df.drop("mcc"),
    "schema: extra": lambda df: df.with_columns(pl.lit(1).alias("leak")),
}


@pytest.mark.parametrize("name", BREAKAGES)
def test_broken_blocks_fail_with_a_one_line_reason(good: pl.DataFrame, name: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        validate_block(BREAKAGES[name](good), DAY)
    message = str(err.value)
    assert "\n" not in message
    assert (
        ("schema check failed" in message)
        if name.startswith("schema")
        else ("data check failed" in message)
    )


def test_totals_must_match_the_requested_rows() -> None:
    with pytest.raises(ValidationFailed, match="generated 99, expected 100"):
        check_totals(Totals(rows=99, fraud_rows=0), 100, 0.005)


def test_fraud_rate_band() -> None:
    low, high = fraud_band(1_000_000, 0.005)
    assert low < 0.3 * 5_000 and 3.9 * 5_000 < high < 4.1 * 5_000
    check_totals(Totals(rows=1_000_000, fraud_rows=11_000), 1_000_000, 0.005)  # a campaign
    with pytest.raises(ValidationFailed, match="fraud-rate check failed"):
        check_totals(Totals(rows=1_000_000, fraud_rows=21_000), 1_000_000, 0.005)
    with pytest.raises(ValidationFailed, match="fraud-rate check failed"):
        check_totals(Totals(rows=1_000_000, fraud_rows=100), 1_000_000, 0.005)


def test_a_failed_check_publishes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fraud_detection import validation

    def corrupt(frame: pl.DataFrame, day: object) -> pl.DataFrame:
        return validate_block(frame.with_columns(pl.lit(-1, pl.Int64).alias("amount")), DAY)

    monkeypatch.setattr(validation, "validate_block", corrupt)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr("tempfile.tempdir", None)
    (tmp_path / "tmp").mkdir()
    dest = LocalDestination(tmp_path / "raw")
    with pytest.raises(ValidationFailed, match="amount"):
        pipeline.run(pipeline.RunOptions(DaySpec(DAY, 5_000)), dest)
    assert not list((tmp_path / "raw").rglob("*.parquet"))
    assert not list((tmp_path / "tmp").iterdir())
