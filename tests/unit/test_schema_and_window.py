"""The columns, their types and the day's time window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from fraud_detection.schema import CHANNELS, COLUMNS, FRAUD_SCENARIOS, NULLABLE, SCHEMA

from .conftest import DAY, small_day


def test_frame_has_exactly_the_documented_schema(day_frame: pl.DataFrame) -> None:
    assert day_frame.schema == SCHEMA
    assert list(day_frame.columns) == list(COLUMNS)


def test_exactly_n_rows(day_frame: pl.DataFrame) -> None:
    assert day_frame.height == 50_000
    assert small_day(rows=1).height == 1


def test_nulls_only_where_allowed(day_frame: pl.DataFrame) -> None:
    nulls = day_frame.null_count().row(0, named=True)
    assert {c for c, n in nulls.items() if n} <= NULLABLE


@pytest.mark.parametrize("day", [date(2025, 6, 12), date(2024, 2, 29), date(2025, 12, 31)])
def test_timestamps_are_utc_inside_the_day_and_ordered(day: date) -> None:
    df = small_day(day, rows=10_000)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    ts = df["event_timestamp"]
    assert ts.dtype == pl.Datetime("us", "UTC")
    assert ts.min() >= start  # type: ignore[operator]
    assert ts.max() < start + timedelta(days=1)  # type: ignore[operator]
    assert ts.is_sorted()


def test_transaction_ids_unique_and_fixed_width(day_frame: pl.DataFrame) -> None:
    ids = day_frame["transaction_id"]
    assert ids.n_unique() == day_frame.height
    assert ids.str.contains(r"^P[0-9A-HJKMNP-TV-Z]{10}$").all()


def test_fraud_scenario_set_exactly_when_fraud(day_frame: pl.DataFrame) -> None:
    assert (day_frame["fraud_scenario"].is_not_null() == day_frame["is_fraud"]).all()
    assert set(day_frame["fraud_scenario"].drop_nulls()) == set(FRAUD_SCENARIOS)


def test_value_domains(day_frame: pl.DataFrame) -> None:
    df = day_frame
    assert (df["amount"] > 0).all()
    assert df["mcc"].str.contains(r"^\d{4}$").all()
    assert set(df["channel"]) <= set(CHANNELS)
    assert df["currency"].str.contains(r"^[A-Z]{3}$").all()
    assert df["latitude"].is_between(-90, 90).all()
    assert df["longitude"].is_between(-180, 180).all()
    assert (df["distance_from_home_km"] >= 0).all()
    for col, prefix in [
        ("customer_id", "C"),
        ("card_id", "K"),
        ("merchant_id", "M"),
        ("terminal_id", "T"),
    ]:
        assert df[col].str.contains(rf"^{prefix}[0-9A-HJKMNP-TV-Z]{{8}}$").all(), col


def test_fraud_rate_follows_the_setting() -> None:
    def share(rate: float) -> float:
        days = [DAY + timedelta(days=i) for i in range(4)]
        frames = pl.concat(small_day(d, rows=30_000, fraud_rate=rate) for d in days)
        return int(frames["is_fraud"].sum()) / frames.height

    # Fraud comes in episodes of several payments, drawn independently for each setting:
    # the two settings are compared over a few days.
    low, high = share(0.002), share(0.01)
    assert 3.0 <= high / low <= 8.0
    assert 0.4 * 0.002 <= low <= 2.5 * 0.002


def test_cli_defaults_are_the_simulators() -> None:
    """settings.py repeats the simulator's defaults so that --help stays light."""
    from fraud_detection import settings
    from fraud_detection.simulator import DaySpec, PopulationSizes
    from fraud_detection.simulator.profiles import DEFAULT_PROFILE, PROFILES

    spec = DaySpec(date(2025, 6, 12), 1)
    assert (spec.seed, spec.fraud_rate) == (settings.DEFAULT_SEED, settings.DEFAULT_FRAUD_RATE)
    assert (spec.profile, DEFAULT_PROFILE) == (settings.DEFAULT_PROFILE,) * 2
    assert tuple(sorted(PROFILES)) == settings.PROFILES
    assert PROFILES[settings.DEFAULT_PROFILE].fraud_rate == settings.DEFAULT_FRAUD_RATE
    sizes = PopulationSizes()
    assert (
        sizes.customers,
        sizes.merchants,
    ) == (settings.DEFAULT_CUSTOMERS, settings.DEFAULT_MERCHANTS)
