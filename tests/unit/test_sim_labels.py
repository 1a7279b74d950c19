"""The labels feed: reports arrive late, some never, a few are false."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from fraud_detection.schema import REPORT_SCHEMA
from fraud_detection.simulator.clock import DayClock
from fraud_detection.simulator.dataset import DaySpec, reports_frame
from fraud_detection.simulator.labels import REPORT_HORIZON_DAYS, reported_rows
from fraud_detection.simulator.profiles import PROFILES
from fraud_detection.validation import ReportsSchema

from .conftest import SMALL, small_day

PAYMENTS = date(2025, 6, 12)
ROWS = 40_000
TRAINING = PROFILES["training"]


@pytest.fixture(scope="module")
def payments() -> pl.DataFrame:
    return small_day(PAYMENTS, rows=ROWS).with_row_index("row")


def _ever_reported(day: date = PAYMENTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return reported_rows(7, DayClock.for_day(day, ROWS), TRAINING.fraud_rate, TRAINING)


def test_report_delays_are_realistic(payments: pl.DataFrame) -> None:
    row, delay, _ = _ever_reported()
    assert (delay >= 1).all() and (delay <= REPORT_HORIZON_DAYS).all()  # never before the payment
    assert 3 <= np.median(delay) <= 20
    assert 0.7 < (delay <= 30).mean() < 0.97  # most within a month...
    assert (delay > 60).any()  # ...with a long tail
    fraud = set(payments.filter(pl.col("is_fraud"))["row"].to_list())
    reported_fraud = [r for r in row.tolist() if r in fraud]
    never = 1 - len(reported_fraud) / len(fraud)
    assert 0.03 < never < 0.4, never  # some fraud is never reported


def test_a_few_reports_are_false(payments: pl.DataFrame) -> None:
    row, _, _ = _ever_reported()
    legit = set(payments.filter(~pl.col("is_fraud"))["row"].to_list())
    false = sum(r in legit for r in row.tolist())
    assert 0 < false < 0.15 * len(row)


def test_the_days_reports_are_the_reports_due_that_day() -> None:
    day = PAYMENTS + timedelta(days=9)
    frame = reports_frame(DaySpec(day, ROWS, seed=7, population=SMALL))
    assert frame.schema == REPORT_SCHEMA
    ReportsSchema.validate(frame, cast=False)
    assert (frame["reported_on"] == day).all()
    for back in (1, 9, 30):
        paid = day - timedelta(days=back)
        row, delay, _ = _ever_reported(paid)
        expected = small_day(paid, rows=ROWS)["transaction_id"].gather(np.sort(row[delay == back]))
        got = frame.filter(pl.col("payment_date") == paid)["transaction_id"]
        assert got.to_list() == expected.to_list()
        assert (frame.filter(pl.col("payment_date") == paid)["delay_days"] == back).all()


def test_reports_are_a_function_of_the_day() -> None:
    spec = DaySpec(PAYMENTS, ROWS, seed=7, population=SMALL)
    assert reports_frame(spec).equals(reports_frame(spec))
    other = DaySpec(PAYMENTS + timedelta(days=1), ROWS, seed=7, population=SMALL)
    assert (
        not reports_frame(spec)["transaction_id"]
        .is_in(reports_frame(other)["transaction_id"])
        .any()
    )
